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

// More columns of `workorders_orders`, declared apart (diesel's tables here hold at most
// 16 columns): what the figures read and the table search matches, written beside the
// row by `store::row_of`. `id` is the same key. The two may meet in one query only as a
// subquery (`id IN (SELECT id …)`): joined, their column names would be ambiguous.
diesel::table! {
    #[sql_name = "workorders_orders"]
    workorders_order_facts (id) {
        id -> Text,
        kind -> Text,
        status -> Text,
        asset_id -> Nullable<Text>,
        created_at -> BigInt,
        closed_at -> Nullable<BigInt>,
        due_at -> Nullable<BigInt>,
        completed_at -> Nullable<BigInt>,
        downtime_start -> Nullable<BigInt>,
        downtime_end -> Nullable<BigInt>,
        estimated_hours -> Nullable<Double>,
        actual_hours -> Nullable<Double>,
        interval_days -> Nullable<Double>,
        repeat_failure -> Bool,
        failure_mode -> Nullable<Text>,
        search_text -> Text,
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

diesel::allow_tables_to_appear_in_same_query!(workorders_orders, workorders_order_facts);
