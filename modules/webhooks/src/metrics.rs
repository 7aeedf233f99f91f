//! The webhooks' Prometheus metrics, described once at start.

pub fn describe_metrics() {
    metrics::describe_counter!(
        "plantd_webhook_deliveries_total",
        "webhook delivery attempts by outcome: delivered, failed (retried later), gave_up"
    );
    metrics::describe_histogram!(
        "plantd_webhook_delivery_seconds",
        "time of one webhook delivery attempt, connect to response head"
    );
    metrics::describe_gauge!(
        "plantd_webhook_pending",
        "webhook deliveries waiting for their next attempt"
    );
    metrics::describe_counter!(
        "plantd_webhooks_disabled_total",
        "webhook subscriptions disabled after failing for webhooks_disable_after_s"
    );
    for outcome in ["delivered", "failed", "gave_up"] {
        metrics::counter!("plantd_webhook_deliveries_total", "outcome" => outcome).absolute(0);
    }
    metrics::counter!("plantd_webhooks_disabled_total").absolute(0);
}
