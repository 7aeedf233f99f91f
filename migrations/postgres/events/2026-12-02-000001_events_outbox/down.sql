DROP TABLE events_processed;
DROP TABLE events_cursors;
DROP TABLE events_outbox;
