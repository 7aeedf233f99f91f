//! Diesel schema of the health module's own tables (nothing else reads or writes them).

diesel::table! {
    health_assets (id) {
        id -> Text,
        parent_id -> Nullable<Text>,
        name -> Text,
        doc -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    health_device_assets (device_id) {
        device_id -> Text,
        asset_id -> Text,
    }
}

diesel::table! {
    health_rules (id) {
        id -> Text,
        doc -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    health_alarms (id) {
        id -> Text,
        rule_id -> Text,
        device_id -> Text,
        asset_id -> Nullable<Text>,
        state -> Text,
        severity -> Text,
        raised_at -> BigInt,
        updated_at -> BigInt,
        doc -> Text,
        search_text -> Text,
    }
}

diesel::table! {
    health_alarm_history (alarm_id, seq) {
        alarm_id -> Text,
        seq -> Integer,
        at -> BigInt,
        change -> Text,
    }
}

diesel::table! {
    health_eval_state (rule_id, device_id) {
        rule_id -> Text,
        device_id -> Text,
        state -> Text,
        updated_at -> BigInt,
    }
}
