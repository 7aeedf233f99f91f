-- Webhook subscriptions. `events` is a JSON array of types, `prefix.*` or `*`. `secret`
-- is the signing key as given (`whsec_…`): plantd needs it to sign, so it is kept, never
-- logged, and shown only on create. `failing_since`: the first failure after the last
-- success (NULL while deliveries succeed).
CREATE TABLE webhooks_subscriptions (
    id TEXT PRIMARY KEY NOT NULL,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    secret TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    disabled_reason TEXT,
    failing_since BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- The delivery log: one row per event and subscription, inserted in the transaction that
-- answers the outbox (unique per event, so a redelivered event adds nothing). `body` is
-- the exact JSON sent and signed. `window_start` begins the give-up window (creation or
-- the last manual redelivery or re-enabling).
CREATE TABLE webhooks_deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    webhook_id TEXT NOT NULL REFERENCES webhooks_subscriptions (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    response_code INTEGER,
    last_error TEXT,
    latency_ms BIGINT,
    next_attempt_at BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhooks_deliveries_due ON webhooks_deliveries (status, next_attempt_at);
CREATE INDEX webhooks_deliveries_log ON webhooks_deliveries (webhook_id, created_at);
