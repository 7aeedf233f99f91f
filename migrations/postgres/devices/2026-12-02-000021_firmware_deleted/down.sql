ALTER TABLE devices_firmware DROP COLUMN deleted_at;
