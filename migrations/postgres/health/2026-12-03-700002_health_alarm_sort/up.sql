-- The alarm tables sort by these columns (ties by id); raised_at and state have theirs.
CREATE INDEX health_alarms_severity ON health_alarms (severity, id);
CREATE INDEX health_alarms_device ON health_alarms (device_id, id);
