-- The health module's tables: the asset tree, alarm rules, the devices' assets as the
-- devices module announced them, alarms with their history, and the evaluators' state.
CREATE TABLE health_assets (
    id TEXT PRIMARY KEY NOT NULL,
    parent_id TEXT,
    name TEXT NOT NULL,
    doc TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX health_assets_parent ON health_assets (parent_id);

CREATE TABLE health_device_assets (
    device_id TEXT PRIMARY KEY NOT NULL,
    asset_id TEXT NOT NULL
);

CREATE TABLE health_rules (
    id TEXT PRIMARY KEY NOT NULL,
    doc TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE health_alarms (
    id TEXT PRIMARY KEY NOT NULL,
    rule_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    asset_id TEXT,
    state TEXT NOT NULL,
    severity TEXT NOT NULL,
    raised_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    doc TEXT NOT NULL
);
-- One open episode per rule and device, whatever happens under load: a second is refused.
CREATE UNIQUE INDEX health_alarms_one_open ON health_alarms (rule_id, device_id) WHERE state <> 'cleared';
CREATE INDEX health_alarms_raised ON health_alarms (raised_at);
CREATE INDEX health_alarms_state ON health_alarms (state);

CREATE TABLE health_alarm_history (
    alarm_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at BIGINT NOT NULL,
    change TEXT NOT NULL,
    PRIMARY KEY (alarm_id, seq)
);

CREATE TABLE health_eval_state (
    rule_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    state TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (rule_id, device_id)
);
