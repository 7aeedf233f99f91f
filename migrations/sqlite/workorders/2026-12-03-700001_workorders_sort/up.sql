-- The order tables sort by these columns (ties by id); number and status have theirs.
CREATE INDEX workorders_orders_due ON workorders_orders (due_at, id);
CREATE INDEX workorders_orders_assignee ON workorders_orders (assignee, id);
CREATE INDEX workorders_orders_kind ON workorders_orders (kind, id);
