DROP TABLE health_eval_state;
DROP TABLE health_alarm_history;
DROP TABLE health_alarms;
DROP TABLE health_rules;
DROP TABLE health_device_assets;
DROP TABLE health_assets;
