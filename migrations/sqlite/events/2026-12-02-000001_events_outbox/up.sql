-- The transactional outbox: every domain event, recorded in the transaction of the change
-- that caused it. `seq` orders delivery (AUTOINCREMENT: never reused after a prune, so a
-- cursor never points past a new row). `envelope` is the CloudEvents JSON as published.
CREATE TABLE events_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    time BIGINT NOT NULL,
    envelope TEXT NOT NULL
);
CREATE INDEX events_outbox_kind ON events_outbox (kind, seq);

-- Each subscriber's position: every event with seq <= this one was handled.
CREATE TABLE events_cursors (
    subscriber TEXT PRIMARY KEY NOT NULL,
    seq BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Event ids a consumer has handled, for consumers without a natural key.
CREATE TABLE events_processed (
    consumer TEXT NOT NULL,
    event_id TEXT NOT NULL,
    processed_at BIGINT NOT NULL,
    PRIMARY KEY (consumer, event_id)
);
