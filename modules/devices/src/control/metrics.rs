//! The Control actor's metrics, described and set to zero at start.

pub fn describe() {
    use metrics::{describe_counter, Unit};
    let counters = [
        (
            "plantd_shadow_desired_updates_total",
            "desired-state patches that changed a shadow",
        ),
        (
            "plantd_shadow_reports_total",
            "device state reports applied (changed or not)",
        ),
        (
            "plantd_shadow_report_batches_total",
            "batches of one device's state reports applied with one load and save",
        ),
        (
            "plantd_shadow_reports_coalesced_total",
            "state reports that joined a batch already queued for their device",
        ),
        (
            "plantd_command_results_coalesced_total",
            "command results that joined a batch already queued for their device",
        ),
        (
            "plantd_control_unknown_device_total",
            "shadow/command messages from devices not in the registry (ignored)",
        ),
        (
            "plantd_control_errors_total",
            "device messages not handled because the database failed",
        ),
        ("plantd_commands_created_total", "commands created"),
        (
            "plantd_commands_delivered_total",
            "commands published to a connected device",
        ),
    ];
    for (name, help) in counters {
        describe_counter!(name, Unit::Count, help);
        metrics::counter!(name).absolute(0);
    }
    describe_counter!(
        "plantd_shadow_reports_rejected_total",
        Unit::Count,
        "device state reports not applied, by reason (malformed, not_object, too_large, stale, version_ahead)"
    );
    describe_counter!(
        "plantd_commands_completed_total",
        Unit::Count,
        "commands that reached a final state, by state"
    );
    describe_counter!(
        "plantd_command_results_rejected_total",
        Unit::Count,
        "command results not applied, by reason (malformed, too_large, not_open)"
    );
    describe_counter!(
        "plantd_control_queue_full_total",
        Unit::Count,
        "times a device's queue in Control reached a cap and the device was held at the broker, by limit (per_device: device_queue_max_per_device, total: device_queue_max_total)"
    );
    metrics::describe_gauge!(
        "plantd_control_queued_messages",
        Unit::Count,
        "state reports and command results waiting in Control for their device's batch"
    );
    metrics::gauge!("plantd_control_queued_messages").set(0.0);
    for limit in ["per_device", "total"] {
        metrics::counter!("plantd_control_queue_full_total", "limit" => limit).absolute(0);
    }
    for reason in ["malformed", "stale"] {
        metrics::counter!("plantd_shadow_reports_rejected_total", "reason" => reason).absolute(0);
    }
    for state in ["succeeded", "failed", "expired"] {
        metrics::counter!("plantd_commands_completed_total", "state" => state).absolute(0);
    }
}
