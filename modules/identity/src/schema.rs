//! Diesel schema of the identity tables (identity's own; nobody else reads them).

diesel::table! {
    identity_users (username) {
        username -> Text,
        password_hash -> Text,
        role -> Text,
        created_at -> BigInt,
        disabled -> Bool,
        skills -> Text,
        updated_at -> BigInt,
        last_sign_in_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    identity_tokens (id) {
        id -> Text,
        name -> Text,
        scopes -> Text,
        secret_digest -> Text,
        created_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
        last_used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    identity_sessions (digest) {
        digest -> Text,
        username -> Text,
        csrf_token -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(identity_users, identity_tokens, identity_sessions);
