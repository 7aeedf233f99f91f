//! Rows as the edge sees them: times as RFC 3339, the secret masked.

use plantd_contracts::time::format_ms;
use plantd_contracts::webhooks::{DeliveryStatus, DeliveryView, WebhookView};

use crate::signing::mask;
use crate::store::{DeliveryRow, SubscriptionRow};

pub fn webhook(row: &SubscriptionRow) -> WebhookView {
    WebhookView {
        id: row.id.clone(),
        url: row.url.clone(),
        events: row.selectors(),
        secret_hint: mask(&row.secret),
        enabled: row.enabled,
        disabled_reason: row.disabled_reason.clone(),
        failing_since: row.failing_since.map(format_ms),
        created_at: format_ms(row.created_at),
        updated_at: format_ms(row.updated_at),
    }
}

pub fn delivery(row: &DeliveryRow) -> DeliveryView {
    let status = DeliveryStatus::parse(&row.status).unwrap_or(DeliveryStatus::Failed);
    let open = matches!(status, DeliveryStatus::Pending | DeliveryStatus::Failed);
    DeliveryView {
        id: row.id.clone(),
        webhook_id: row.webhook_id.clone(),
        event_id: row.event_id.clone(),
        event_type: row.event_type.clone(),
        status,
        attempts: row.attempts,
        response_code: row.response_code,
        last_error: row.last_error.clone(),
        latency_ms: row.latency_ms,
        next_attempt_at: open.then(|| format_ms(row.next_attempt_at)),
        created_at: format_ms(row.created_at),
        delivered_at: row.delivered_at.map(format_ms),
    }
}
