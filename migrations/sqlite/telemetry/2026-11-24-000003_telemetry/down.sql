DROP TABLE telemetry_series;
DROP TABLE telemetry_samples;
