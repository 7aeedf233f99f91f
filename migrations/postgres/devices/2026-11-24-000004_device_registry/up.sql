-- devices: labels of a device, a JSON array of strings (sorted, unique). enabled,
-- updated_at and the deleted_at tombstone are in the table since 000002.
ALTER TABLE devices_devices ADD COLUMN labels TEXT NOT NULL DEFAULT '[]';
