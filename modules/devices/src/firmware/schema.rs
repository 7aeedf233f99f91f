//! Diesel schema of the firmware tables (the devices module's own; nobody else reads them).

diesel::table! {
    devices_firmware (id) {
        id -> Text,
        version -> Text,
        name -> Text,
        sha256 -> Text,
        size -> BigInt,
        created_at -> BigInt,
        deleted_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    devices_campaigns (id) {
        id -> Text,
        firmware_id -> Text,
        status -> Text,
        timeout_s -> BigInt,
        retries -> Integer,
        created_by -> Text,
        created_at -> BigInt,
        finished_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    devices_campaign_targets (campaign_id, device_id) {
        campaign_id -> Text,
        device_id -> Text,
        state -> Text,
        attempts -> Integer,
        reported_version -> Nullable<Text>,
        detail -> Nullable<Text>,
        deadline -> Nullable<BigInt>,
        updated_at -> BigInt,
    }
}

diesel::joinable!(devices_campaigns -> devices_firmware (firmware_id));
diesel::joinable!(devices_campaign_targets -> devices_campaigns (campaign_id));
diesel::allow_tables_to_appear_in_same_query!(
    devices_firmware,
    devices_campaigns,
    devices_campaign_targets
);
