//! Diesel schema of the work-order module's own tables (nothing else reads or writes them).

diesel::table! {
    workorders_orders (id) {
        id -> Text,
        number -> BigInt,
        kind -> Text,
        status -> Text,
        asset_id -> Nullable<Text>,
        device_id -> Nullable<Text>,
        assignee -> Nullable<Text>,
        stops_asset -> Bool,
        due_at -> Nullable<BigInt>,
        alarm_id -> Nullable<Text>,
        rule_id -> Nullable<Text>,
        plan_id -> Nullable<Text>,
        occurrence -> Nullable<BigInt>,
        created_at -> BigInt,
        closed_at -> Nullable<BigInt>,
        doc -> Text,
    }
}

diesel::table! {
    workorders_history (order_id, seq) {
        order_id -> Text,
        seq -> Integer,
        at -> BigInt,
        entry -> Text,
    }
}

diesel::table! {
    workorders_counters (name) {
        name -> Text,
        value -> BigInt,
    }
}

diesel::table! {
    workorders_requests (id) {
        id -> Text,
        status -> Text,
        asset_id -> Nullable<Text>,
        created_at -> BigInt,
        doc -> Text,
    }
}

diesel::table! {
    workorders_codes (list, code) {
        list -> Text,
        code -> Text,
        label -> Text,
        position -> Integer,
    }
}
