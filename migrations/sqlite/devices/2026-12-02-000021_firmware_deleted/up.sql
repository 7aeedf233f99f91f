-- devices (firmware): a deleted image keeps its row (campaigns refer to it, and their
-- history stays readable) with the time it was deleted; its bytes are removed.
ALTER TABLE devices_firmware ADD COLUMN deleted_at BIGINT;
