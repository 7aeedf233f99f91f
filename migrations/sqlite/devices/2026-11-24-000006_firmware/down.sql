DROP TABLE devices_campaign_targets;
DROP TABLE devices_campaigns;
DROP TABLE devices_firmware;
