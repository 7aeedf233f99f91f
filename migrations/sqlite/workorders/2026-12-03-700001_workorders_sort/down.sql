DROP INDEX workorders_orders_kind;
DROP INDEX workorders_orders_assignee;
DROP INDEX workorders_orders_due;
