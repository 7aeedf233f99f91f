//! The events' Prometheus metrics, described once at start.

pub fn describe_metrics() {
    metrics::describe_counter!(
        "plantd_events_recorded_total",
        "domain events recorded in the outbox, by type"
    );
    metrics::describe_counter!(
        "plantd_events_delivered_total",
        "events a subscriber handled, by subscriber"
    );
    metrics::describe_counter!(
        "plantd_events_delivery_failures_total",
        "deliveries a subscriber refused or did not answer (retried), by subscriber"
    );
    metrics::describe_counter!(
        "plantd_events_read_failures_total",
        "outbox reads that failed (the database was away)"
    );
    metrics::describe_counter!(
        "plantd_events_undecodable_total",
        "stored events that are not an event envelope (skipped)"
    );
    metrics::describe_counter!(
        "plantd_events_pruned_total",
        "delivered events deleted after the retention"
    );
    metrics::describe_gauge!(
        "plantd_events_cursor",
        "the last outbox seq a subscriber handled, by subscriber"
    );
    metrics::counter!("plantd_events_undecodable_total").absolute(0);
    metrics::counter!("plantd_events_read_failures_total").absolute(0);
}
