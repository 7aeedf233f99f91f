ALTER TABLE devices_devices DROP COLUMN labels;
