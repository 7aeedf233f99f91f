DROP TABLE maintenance_occurrences;
DROP TABLE maintenance_meters;
DROP TABLE maintenance_plans;
