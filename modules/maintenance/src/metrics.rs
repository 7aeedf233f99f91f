//! The maintenance module's Prometheus metrics and their descriptions.

pub fn describe_metrics() {
    metrics::describe_counter!(
        "plantd_maintenance_samples_counted_total",
        "Samples counted by a plan's meter (run hours, counter increments)"
    );
    metrics::describe_counter!(
        "plantd_maintenance_samples_ignored_total",
        "Samples of a watched series not counted, by reason (stale: not newer than the last; not_finite)"
    );
    metrics::describe_counter!(
        "plantd_maintenance_due_total",
        "Plan occurrences raised as due (maintenance.due), by trigger"
    );
    metrics::describe_counter!(
        "plantd_maintenance_missed_total",
        "Plan occurrences missed (previous order still open, or skipped by a clock jump)"
    );
    metrics::describe_counter!(
        "plantd_maintenance_write_failures_total",
        "Maintenance writes that failed (retried)"
    );
    metrics::describe_counter!(
        "plantd_maintenance_checks_total",
        "Checks of every plan against the clock (one a tick)"
    );
    for trigger in ["calendar", "meter"] {
        metrics::counter!("plantd_maintenance_due_total", "trigger" => trigger).absolute(0);
    }
    metrics::counter!("plantd_maintenance_missed_total").absolute(0);
    metrics::counter!("plantd_maintenance_samples_counted_total").absolute(0);
    metrics::counter!("plantd_maintenance_write_failures_total").absolute(0);
}
