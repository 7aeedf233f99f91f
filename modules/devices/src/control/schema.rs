//! Diesel schema of the Control actor's tables (devices' own; nobody else reads them).

diesel::table! {
    devices_shadow (device_id) {
        device_id -> Text,
        desired -> Text,
        reported -> Text,
        version -> BigInt,
        desired_version -> BigInt,
        metadata -> Text,
        updated_at -> BigInt,
    }
}

diesel::table! {
    devices_commands (id) {
        id -> Text,
        device_id -> Text,
        name -> Text,
        args -> Text,
        state -> Text,
        created_at -> BigInt,
        delivered_at -> Nullable<BigInt>,
        completed_at -> Nullable<BigInt>,
        expires_at -> BigInt,
        result -> Nullable<Text>,
    }
}
