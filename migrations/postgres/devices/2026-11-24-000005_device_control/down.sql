DROP TABLE devices_commands;
DROP TABLE devices_shadow;
