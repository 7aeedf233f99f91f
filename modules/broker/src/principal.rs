//! Who is on a connection and which topics the contract lets them touch.
//!
//! Devices: publish and subscribe only the contract's topics under `devices/{own id}/`
//! (publish: `telemetry`, `state/reported`, `commands/{cmd}/result`, `firmware/status`;
//! subscribe: `state/desired`, `state/delta`, `commands/{cmd}` or `commands/+`,
//! `firmware/available`), nothing deeper or elsewhere.
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
            Principal::Device(id) => own_rest(id, topic).is_some_and(device_publishes),
            Principal::Integration(_) => {
                !topic.starts_with('$')
                    && !in_namespace(topic, "devices")
                    && !in_namespace(topic, "plantd")
            }
        }
    }

    pub fn may_subscribe(&self, filter: &str) -> bool {
        match self {
            Principal::Device(id) => own_rest(id, filter).is_some_and(device_subscribes),
            Principal::Integration(_) => match filter.strip_prefix("$share/") {
                Some(rest) => rest
                    .split_once('/')
                    .is_some_and(|(group, inner)| !group.is_empty() && !inner.starts_with('$')),
                None => !filter.starts_with('$'),
            },
        }
    }
}

/// What follows `devices/{id}/` in `topic`.
fn own_rest<'a>(id: &str, topic: &'a str) -> Option<&'a str> {
    topic
        .strip_prefix("devices/")
        .and_then(|rest| rest.strip_prefix(id))
        .and_then(|rest| rest.strip_prefix('/'))
}

/// The first four levels of `rest` (`None` past its last): enough to tell the contract's
/// topics, at most three levels deep, from anything deeper.
fn levels(rest: &str) -> [Option<&str>; 4] {
    let mut it = rest.split('/');
    [it.next(), it.next(), it.next(), it.next()]
}

/// A command id's level: not empty, no wildcard.
fn is_name(level: &str) -> bool {
    !level.is_empty() && !level.contains(['+', '#'])
}

/// The contract's "Device → plantd" topics (after `devices/{id}/`).
fn device_publishes(rest: &str) -> bool {
    match levels(rest) {
        [Some("telemetry"), None, ..]
        | [Some("state"), Some("reported"), None, _]
        | [Some("firmware"), Some("status"), None, _] => true,
        [Some("commands"), Some(cmd), Some("result"), None] => is_name(cmd),
        _ => false,
    }
}

/// The contract's "plantd → device" topics (after `devices/{id}/`), `+` for any command.
fn device_subscribes(rest: &str) -> bool {
    match levels(rest) {
        [Some("state"), Some("desired" | "delta"), None, _]
        | [Some("firmware"), Some("available"), None, _] => true,
        [Some("commands"), Some(cmd), None, _] => cmd == "+" || is_name(cmd),
        _ => false,
    }
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
        for t in [
            "devices/press-1/telemetry",
            "devices/press-1/state/reported",
            "devices/press-1/commands/c-17/result",
            "devices/press-1/firmware/status",
        ] {
            assert!(d.may_publish(t), "{t}");
        }
        for t in [
            "devices/press-10/telemetry",
            "devices/press-1",
            "devices/press-1/",
            "plantd/events/x",
            // Beyond the contract: any other name or depth under its own prefix.
            "devices/press-1/telemetry/x",
            "devices/press-1/x",
            "devices/press-1/a/b/c/d/e",
            "devices/press-1/state/desired",
            "devices/press-1/state/reported/x",
            "devices/press-1/commands/c-17",
            "devices/press-1/commands//result",
            "devices/press-1/commands/c-17/result/x",
            "devices/press-1/firmware/available",
        ] {
            assert!(!d.may_publish(t), "{t}");
        }
        for f in [
            "devices/press-1/state/desired",
            "devices/press-1/state/delta",
            "devices/press-1/commands/+",
            "devices/press-1/commands/c-17",
            "devices/press-1/firmware/available",
        ] {
            assert!(d.may_subscribe(f), "{f}");
        }
        for f in [
            "devices/press-1/#",
            "devices/press-1/+",
            "devices/press-1/commands/#",
            "devices/press-1/commands/+/result",
            "devices/press-1/state/+",
            "devices/press-1/telemetry",
            "devices/press-1/x/y/z",
            "devices/press-1/commands/",
            "devices/press-1/commands/a+",
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

#[cfg(test)]
mod proptests;
