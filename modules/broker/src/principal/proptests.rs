//! Property tests of the contract's topic rules (issue 14.14; the fuzz targets
//! `fuzz/fuzz_targets/mqtt_*_policy.rs` drive the whole policy layer for longer): for
//! generated device ids and topics built from the contract's words, other ids, wildcards and
//! `$` levels, a device may publish and subscribe exactly its own contract topics, and an
//! integration reads everything but `$…` (shared subscriptions excepted) and publishes
//! nowhere under `$…`, `devices/` or `plantd/`. Pure.

use proptest::prelude::*;

use super::*;

fn device_id() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9_-]{0,12}"
}

/// A level: the contract's words, the device's own id (`None`), other ids, wildcards, `$`.
fn level() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        prop_oneof![
            Just("devices"),
            Just("plantd"),
            Just("telemetry"),
            Just("state"),
            Just("reported"),
            Just("desired"),
            Just("delta"),
            Just("commands"),
            Just("result"),
            Just("firmware"),
            Just("status"),
            Just("available"),
            Just("+"),
            Just("#"),
            Just(""),
            Just("$SYS"),
            Just("$share"),
        ]
        .prop_map(|w| Some(w.to_owned())),
        "[a-z0-9_+#$-]{1,6}".prop_map(Some),
    ]
}

fn topic(id: &str, levels: &[Option<String>]) -> String {
    levels
        .iter()
        .map(|l| l.as_deref().unwrap_or(id))
        .collect::<Vec<_>>()
        .join("/")
}

/// The contract's "Device → plantd" topics of `id`, with `cmd` for the command.
fn contract_publish(id: &str, cmd: &str) -> Vec<String> {
    vec![
        format!("devices/{id}/telemetry"),
        format!("devices/{id}/state/reported"),
        format!("devices/{id}/firmware/status"),
        format!("devices/{id}/commands/{cmd}/result"),
    ]
}

/// The contract's "plantd → device" filters of `id`.
fn contract_subscribe(id: &str, cmd: &str) -> Vec<String> {
    vec![
        format!("devices/{id}/state/desired"),
        format!("devices/{id}/state/delta"),
        format!("devices/{id}/firmware/available"),
        format!("devices/{id}/commands/{cmd}"),
        format!("devices/{id}/commands/+"),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_device_is_allowed_exactly_its_contract_topics(
        id in device_id(),
        levels in prop::collection::vec(level(), 0..7),
        cmd in "[a-z0-9]{1,8}",
        pick in 0usize..5,
    ) {
        let d = Principal::Device(id.clone());
        // A generated topic or filter; the contract's allows only what it lists.
        let any = topic(&id, &levels);
        let name = |c: &str| !c.is_empty() && !c.contains(['/', '+', '#']);
        let cmd_rest = any.strip_prefix(&format!("devices/{id}/commands/"));
        let own_publish = contract_publish(&id, "x")[..3].contains(&any)
            || cmd_rest.and_then(|r| r.strip_suffix("/result")).is_some_and(name);
        prop_assert_eq!(d.may_publish(&any), own_publish, "publish {}", any);
        let own_filter = contract_subscribe(&id, "x")[..3].contains(&any)
            || cmd_rest.is_some_and(|c| c == "+" || name(c));
        prop_assert_eq!(d.may_subscribe(&any), own_filter, "subscribe {}", any);
        // Each listed topic is allowed; the same under another id is not.
        let other = format!("{id}x");
        prop_assert!(d.may_publish(&contract_publish(&id, &cmd)[pick % 4]));
        prop_assert!(d.may_subscribe(&contract_subscribe(&id, &cmd)[pick]));
        prop_assert!(!d.may_publish(&contract_publish(&other, &cmd)[pick % 4]));
        prop_assert!(!d.may_subscribe(&contract_subscribe(&other, &cmd)[pick]));
    }

    #[test]
    fn an_integration_keeps_out_of_dollar_devices_and_plantd(
        id in device_id(),
        levels in prop::collection::vec(level(), 0..6),
    ) {
        let i = Principal::Integration("tok.abc".to_owned());
        let any = topic(&id, &levels);
        let first = any.split('/').next().unwrap_or("");
        let may_publish = !any.is_empty()
            && !any.contains(['+', '#'])
            && !any.starts_with('$')
            && first != "devices"
            && first != "plantd";
        prop_assert_eq!(i.may_publish(&any), may_publish, "publish {}", any);
        let may_subscribe = match any.strip_prefix("$share/") {
            Some(rest) => rest
                .split_once('/')
                .is_some_and(|(group, inner)| !group.is_empty() && !inner.starts_with('$')),
            None => !any.starts_with('$'),
        };
        prop_assert_eq!(i.may_subscribe(&any), may_subscribe, "subscribe {}", any);
    }
}
