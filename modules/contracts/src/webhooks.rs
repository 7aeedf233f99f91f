//! Messages of the webhooks module: subscriptions (URL, event types, signing secret),
//! their delivery log, redelivery. Times are RFC 3339 strings, as at the HTTP edge.

use actix::Message;
use serde::{Deserialize, Serialize};

use crate::DomainError;

/// A webhook subscription as shown (its secret masked).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    /// Event types: a type (`device.provisioned`), a prefix (`device.*`) or `*`.
    pub events: Vec<String>,
    /// The signing secret masked (`whsec_abcd…`): it is shown whole only on create.
    pub secret_hint: String,
    pub enabled: bool,
    /// Why plantd disabled it (deliveries failed for `webhooks_disable_after_s`).
    pub disabled_reason: Option<String>,
    /// Since when every delivery has failed (none succeeded since), if it is failing.
    pub failing_since: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// A subscription just created, with its secret (shown only now).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// `whsec_` + base64 of the HMAC key.
    pub secret: String,
}

/// Where a delivery stands.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not tried yet: the first attempt is at `next_attempt_at`.
    Pending,
    Delivered,
    /// The last attempt failed: the next one is at `next_attempt_at`.
    Failed,
    /// Failed for `webhooks_give_up_after_s`: no more attempts unless redelivered.
    GaveUp,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::GaveUp => "gave_up",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryStatus> {
        match s {
            "pending" => Some(DeliveryStatus::Pending),
            "delivered" => Some(DeliveryStatus::Delivered),
            "failed" => Some(DeliveryStatus::Failed),
            "gave_up" => Some(DeliveryStatus::GaveUp),
            _ => None,
        }
    }
}

/// One event to one subscription: a row of the delivery log.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryView {
    pub id: String,
    pub webhook_id: String,
    /// Also the `webhook-id` header of every attempt (receivers dedupe by it).
    pub event_id: String,
    pub event_type: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    /// HTTP status of the last attempt (none when it got no answer).
    pub response_code: Option<i32>,
    /// Why the last attempt failed (clipped).
    pub last_error: Option<String>,
    /// How long the last attempt took, in milliseconds.
    pub latency_ms: Option<i64>,
    /// When the next attempt is due (pending and failed only).
    pub next_attempt_at: Option<String>,
    pub created_at: String,
    pub delivered_at: Option<String>,
}

/// `POST /webhooks`. `secret` absent → generated.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<CreatedWebhook, DomainError>")]
pub struct CreateWebhook {
    pub url: String,
    pub events: Vec<String>,
    pub secret: Option<String>,
}

#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Vec<WebhookView>, DomainError>")]
pub struct ListWebhooks;

#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<WebhookView, DomainError>")]
pub struct GetWebhook {
    pub id: String,
}

/// `PATCH /webhooks/{id}`: what is given changes; `enabled: true` re-enables a disabled
/// subscription (its pending deliveries are due at once, with a fresh give-up window).
#[derive(Debug, Clone, Default, Message)]
#[rtype(result = "Result<WebhookView, DomainError>")]
pub struct UpdateWebhook {
    pub id: String,
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

/// Deletes a subscription and its delivery log.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<(), DomainError>")]
pub struct DeleteWebhook {
    pub id: String,
}

/// A subscription's newest deliveries, newest first.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Vec<DeliveryView>, DomainError>")]
pub struct ListDeliveries {
    pub webhook_id: String,
    pub limit: u32,
}

/// Sends a delivery again (same `webhook-id` and body), whatever its status.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<DeliveryView, DomainError>")]
pub struct Redeliver {
    pub webhook_id: String,
    pub delivery_id: String,
}
