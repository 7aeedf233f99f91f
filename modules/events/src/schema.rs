//! Diesel schema of the events tables (this crate's own; modules write them only through
//! [`crate::record`] and [`crate::claim`]).

diesel::table! {
    events_outbox (seq) {
        seq -> BigInt,
        id -> Text,
        kind -> Text,
        source -> Text,
        time -> BigInt,
        envelope -> Text,
    }
}

diesel::table! {
    events_cursors (subscriber) {
        subscriber -> Text,
        seq -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    events_processed (consumer, event_id) {
        consumer -> Text,
        event_id -> Text,
        processed_at -> BigInt,
    }
}
