-- The maintenance module's tables: preventive plans (the document as JSON), each plan's
-- meter and schedule (where the next occurrence is due), and the occurrences raised,
-- one row per (plan, occurrence): the row and its `maintenance.due` / `.missed` event
-- are written in one transaction, so an occurrence is raised at most once.
CREATE TABLE maintenance_plans (
    id TEXT PRIMARY KEY NOT NULL,
    asset_id TEXT NOT NULL,
    doc TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX maintenance_plans_asset ON maintenance_plans (asset_id);

CREATE TABLE maintenance_meters (
    plan_id TEXT PRIMARY KEY NOT NULL,
    -- The meter: its total since the plan began counting, the base of the current
    -- cycle (due at base + every), the last sample of its series, daily usage.
    total DOUBLE PRECISION NOT NULL,
    base DOUBLE PRECISION NOT NULL,
    last_ts BIGINT,
    last_value DOUBLE PRECISION,
    first_ts BIGINT,
    buckets TEXT NOT NULL,
    -- The schedule: the next occurrence, the fixed calendar's next index, the
    -- floating calendar's anchor, the last completion.
    next_occurrence BIGINT NOT NULL,
    cal_index BIGINT NOT NULL,
    cal_anchor BIGINT,
    last_completed_at BIGINT,
    last_completed_occurrence BIGINT,
    updated_at BIGINT NOT NULL
);

CREATE TABLE maintenance_occurrences (
    plan_id TEXT NOT NULL,
    occurrence BIGINT NOT NULL,
    due_at BIGINT,
    due_meter DOUBLE PRECISION,
    trigger_kind TEXT NOT NULL,
    -- due | missed | ordered | done | cancelled
    state TEXT NOT NULL,
    work_order_id TEXT,
    raised_at BIGINT NOT NULL,
    closed_at BIGINT,
    PRIMARY KEY (plan_id, occurrence)
);
CREATE INDEX maintenance_occurrences_due ON maintenance_occurrences (due_at);
CREATE INDEX maintenance_occurrences_state ON maintenance_occurrences (state);
