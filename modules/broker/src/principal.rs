//! Who is on a connection and which topics the contract lets them touch.
//!
//! Devices: publish and subscribe only under `devices/{own id}/`.
//! Integrations (tokens with the `mqtt` scope): read everything, publish nothing under
//! `devices/` or `plantd/`, and use every other topic as a plain MQTT broker.
//! `$`-topics are nobody's, except `$share/…` shared subscriptions of integrations.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Device(String),
    Integration(String),
}

impl Principal {
    pub fn username(&self) -> &str {
        match self {
            Principal::Device(id) | Principal::Integration(id) => id,
        }
    }

    /// `topic` is a topic name: MQTT forbids an empty one (rumqttd would route it, and `#`
    /// matches it) and wildcards.
    pub fn may_publish(&self, topic: &str) -> bool {
        if topic.is_empty() || topic.contains(['+', '#']) {
            return false;
        }
        match self {
            Principal::Device(id) => under_own_prefix(id, topic),
            Principal::Integration(_) => {
                !topic.starts_with('$')
                    && !in_namespace(topic, "devices")
                    && !in_namespace(topic, "plantd")
            }
        }
    }

    pub fn may_subscribe(&self, filter: &str) -> bool {
        match self {
            Principal::Device(id) => under_own_prefix(id, filter),
            Principal::Integration(_) => match filter.strip_prefix("$share/") {
                Some(rest) => rest
                    .split_once('/')
                    .is_some_and(|(group, inner)| !group.is_empty() && !inner.starts_with('$')),
                None => !filter.starts_with('$'),
            },
        }
    }
}

fn under_own_prefix(id: &str, topic: &str) -> bool {
    topic
        .strip_prefix("devices/")
        .and_then(|rest| rest.strip_prefix(id))
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(|rest| !rest.is_empty())
}

fn in_namespace(topic: &str, root: &str) -> bool {
    topic == root
        || topic
            .strip_prefix(root)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_stay_under_their_own_prefix() {
        let d = Principal::Device("press-1".into());
        assert!(d.may_publish("devices/press-1/telemetry"));
        assert!(!d.may_publish("devices/press-10/telemetry"));
        assert!(!d.may_publish("devices/press-1"));
        assert!(!d.may_publish("devices/press-1/"));
        assert!(!d.may_publish("plantd/events/x"));
        assert!(d.may_subscribe("devices/press-1/#"));
        assert!(d.may_subscribe("devices/press-1/commands/+"));
        for f in [
            "#",
            "devices/+/telemetry",
            "devices/press-2/#",
            "devices/#",
            "$share/g/devices/press-1/#",
            "plantd/events/#",
            "+/press-1/#",
        ] {
            assert!(!d.may_subscribe(f), "{f}");
        }
    }

    #[test]
    fn integrations_read_all_and_write_outside_plantd_namespaces() {
        let i = Principal::Integration("tok.abc".into());
        assert!(i.may_subscribe("#"));
        assert!(i.may_subscribe("devices/+/telemetry"));
        assert!(i.may_subscribe("$share/workers/plant/jobs"));
        assert!(!i.may_subscribe("$SYS/#"));
        assert!(!i.may_subscribe("$share/g/$plantd/denied"));
        assert!(i.may_publish("plant/line1/orders"));
        assert!(i.may_publish("devicesx/y"));
        for t in [
            "devices/press-1/telemetry",
            "devices",
            "plantd/events/x",
            "plantd",
            "$plantd/x",
            "",
            "plant/+",
        ] {
            assert!(!i.may_publish(t), "{t}");
        }
    }
}
