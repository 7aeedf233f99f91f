//! Diesel schema of the webhooks tables (this crate's own).

diesel::table! {
    webhooks_subscriptions (id) {
        id -> Text,
        url -> Text,
        events -> Text,
        secret -> Text,
        enabled -> Bool,
        disabled_reason -> Nullable<Text>,
        failing_since -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    webhooks_deliveries (id) {
        id -> Text,
        webhook_id -> Text,
        event_id -> Text,
        event_type -> Text,
        body -> Text,
        status -> Text,
        attempts -> Integer,
        response_code -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        latency_ms -> Nullable<BigInt>,
        next_attempt_at -> BigInt,
        window_start -> BigInt,
        created_at -> BigInt,
        delivered_at -> Nullable<BigInt>,
    }
}

diesel::joinable!(webhooks_deliveries -> webhooks_subscriptions (webhook_id));
diesel::allow_tables_to_appear_in_same_query!(webhooks_subscriptions, webhooks_deliveries);
