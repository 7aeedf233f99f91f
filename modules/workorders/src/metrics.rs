//! The work-order module's Prometheus metrics and their descriptions.

pub fn describe_metrics() {
    metrics::describe_counter!(
        "plantd_workorders_created_total",
        "Work orders created, by source (manual, alarm, plan, request, follow_up)"
    );
    metrics::describe_counter!(
        "plantd_workorders_consumer_failures_total",
        "Events (alarm.*, maintenance.due) the work-order module failed to handle (redelivered), by type"
    );
    metrics::describe_gauge!(
        "plantd_workorders_open",
        "Work orders open, in progress or on hold"
    );
    metrics::describe_counter!(
        "plantd_workorders_figures_rows_skipped_total",
        "Stored orders left out of the maintenance figures: an unknown type or status in their row"
    );
}
