//! Diesel schema of the devices tables (devices' own; nobody else reads them).

diesel::table! {
    devices_devices (id) {
        id -> Text,
        name -> Text,
        kind -> Nullable<Text>,
        asset_id -> Nullable<Text>,
        metadata -> Text,
        secret_digest -> Text,
        enabled -> Bool,
        created_at -> BigInt,
        updated_at -> BigInt,
        last_seen -> Nullable<BigInt>,
        deleted_at -> Nullable<BigInt>,
        labels -> Text,
    }
}
