DROP INDEX health_alarms_device;
DROP INDEX health_alarms_severity;
