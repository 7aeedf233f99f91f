DROP TABLE workorders_codes;
DROP TABLE workorders_requests;
DROP TABLE workorders_counters;
DROP TABLE workorders_history;
DROP TABLE workorders_orders;
