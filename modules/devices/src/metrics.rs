//! The devices module's metrics, described and set to zero at start.

use crate::registry::Registry;

/// Registry changes, by kind (the `device.*` event names without the prefix).
pub const CHANGES: &str = "plantd_device_changes_total";
const REGISTERED: &str = "plantd_devices_registered";
const ONLINE: &str = "plantd_devices_online";

pub fn describe() {
    use metrics::{describe_counter, describe_gauge, Unit};
    describe_counter!(
        CHANGES,
        "device registry changes, by change (provisioned, updated, credentials_rotated, disabled, enabled, deleted)"
    );
    describe_gauge!(
        REGISTERED,
        Unit::Count,
        "devices in the registry (not deleted)"
    );
    describe_gauge!(ONLINE, Unit::Count, "devices with a live MQTT session");
    for change in [
        "provisioned",
        "updated",
        "credentials_rotated",
        "disabled",
        "enabled",
        "deleted",
    ] {
        metrics::counter!(CHANGES, "change" => change).absolute(0);
    }
}

/// Sets the gauges from the registry's counts (cheap: no scan).
pub fn gauges(registry: &Registry) {
    let (registered, online) = registry.counts();
    metrics::gauge!(REGISTERED).set(registered as f64);
    metrics::gauge!(ONLINE).set(online as f64);
}

/// Counts a change named by its event type (`device.disabled` → `disabled`).
pub fn changed(event: &str) {
    let change = event.strip_prefix("device.").unwrap_or(event).to_owned();
    metrics::counter!(CHANGES, "change" => change).increment(1);
}
