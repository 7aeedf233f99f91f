//! Diesel schema of the maintenance module's own tables (nothing else reads or writes them).

diesel::table! {
    maintenance_plans (id) {
        id -> Text,
        asset_id -> Text,
        doc -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    maintenance_meters (plan_id) {
        plan_id -> Text,
        total -> Double,
        base -> Double,
        last_ts -> Nullable<BigInt>,
        last_value -> Nullable<Double>,
        first_ts -> Nullable<BigInt>,
        buckets -> Text,
        next_occurrence -> BigInt,
        cal_index -> BigInt,
        cal_anchor -> Nullable<BigInt>,
        last_completed_at -> Nullable<BigInt>,
        last_completed_occurrence -> Nullable<BigInt>,
        updated_at -> BigInt,
    }
}

diesel::table! {
    maintenance_occurrences (plan_id, occurrence) {
        plan_id -> Text,
        occurrence -> BigInt,
        due_at -> Nullable<BigInt>,
        due_meter -> Nullable<Double>,
        trigger_kind -> Text,
        state -> Text,
        work_order_id -> Nullable<Text>,
        raised_at -> BigInt,
        closed_at -> Nullable<BigInt>,
    }
}
