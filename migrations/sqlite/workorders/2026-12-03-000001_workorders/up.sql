-- The work-order module's tables: orders (the document beside the columns that filters,
-- constraints and figures need), their audit history, the WO-n counter, operators' work
-- requests and the closing-code pick lists (seeded with defaults an admin may edit).
CREATE TABLE workorders_orders (
    id TEXT PRIMARY KEY NOT NULL,
    number BIGINT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    asset_id TEXT,
    device_id TEXT,
    assignee TEXT,
    stops_asset BOOLEAN NOT NULL DEFAULT 0,
    due_at BIGINT,
    alarm_id TEXT,
    rule_id TEXT,
    plan_id TEXT,
    occurrence BIGINT,
    created_at BIGINT NOT NULL,
    closed_at BIGINT,
    doc TEXT NOT NULL
);
CREATE UNIQUE INDEX workorders_orders_number ON workorders_orders (number);
-- One order per alarm episode and per plan occurrence, whatever is delivered twice.
CREATE UNIQUE INDEX workorders_orders_alarm ON workorders_orders (alarm_id);
CREATE UNIQUE INDEX workorders_orders_occurrence ON workorders_orders (plan_id, occurrence);
CREATE INDEX workorders_orders_created ON workorders_orders (created_at, id);
CREATE INDEX workorders_orders_status ON workorders_orders (status);
CREATE INDEX workorders_orders_asset ON workorders_orders (asset_id, status);
CREATE INDEX workorders_orders_rule ON workorders_orders (rule_id, status);
CREATE INDEX workorders_orders_closed ON workorders_orders (closed_at);

CREATE TABLE workorders_history (
    order_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at BIGINT NOT NULL,
    entry TEXT NOT NULL,
    PRIMARY KEY (order_id, seq)
);

CREATE TABLE workorders_counters (
    name TEXT PRIMARY KEY NOT NULL,
    value BIGINT NOT NULL
);
INSERT INTO workorders_counters (name, value) VALUES ('orders', 0);

CREATE TABLE workorders_requests (
    id TEXT PRIMARY KEY NOT NULL,
    status TEXT NOT NULL,
    asset_id TEXT,
    created_at BIGINT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX workorders_requests_created ON workorders_requests (created_at);

CREATE TABLE workorders_codes (
    list TEXT NOT NULL,
    code TEXT NOT NULL,
    label TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (list, code)
);
INSERT INTO workorders_codes (list, code, label, position) VALUES
    ('failure_modes', 'vibration', 'Vibration', 0),
    ('failure_modes', 'overheating', 'Overheating', 1),
    ('failure_modes', 'leakage', 'Leakage', 2),
    ('failure_modes', 'no_output', 'No output', 3),
    ('failure_modes', 'noise', 'Noise', 4),
    ('failure_modes', 'electrical_fault', 'Electrical fault', 5),
    ('failure_modes', 'blockage', 'Blockage', 6),
    ('failure_modes', 'other', 'Other', 7),
    ('causes', 'wear', 'Wear', 0),
    ('causes', 'misalignment', 'Misalignment', 1),
    ('causes', 'lubrication', 'Lubrication', 2),
    ('causes', 'contamination', 'Contamination', 3),
    ('causes', 'design', 'Design', 4),
    ('causes', 'operating_error', 'Operating error', 5),
    ('causes', 'unknown', 'Unknown', 6),
    ('actions', 'replace', 'Replace', 0),
    ('actions', 'repair', 'Repair', 1),
    ('actions', 'adjust', 'Adjust', 2),
    ('actions', 'lubricate', 'Lubricate', 3),
    ('actions', 'clean', 'Clean', 4),
    ('actions', 'no_action', 'No action', 5),
    ('detections', 'alarm', 'Alarm', 0),
    ('detections', 'preventive_check', 'Preventive check', 1),
    ('detections', 'operator', 'Operator', 2),
    ('detections', 'inspection', 'Inspection', 3);
