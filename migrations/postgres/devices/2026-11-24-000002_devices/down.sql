DROP TABLE devices_devices;
