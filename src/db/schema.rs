//! The one hand-kept schema for both backends (portable types only).

diesel::table! {
    jobs (id) {
        id -> BigInt,
        uuid -> Text,
        owner -> Text,
        name -> Text,
        state -> SmallInt,
        state_reason -> SmallInt,
        state_message -> Nullable<Text>,
        originating_host -> Nullable<Text>,
        requested_sides -> Nullable<SmallInt>,
        requested_color_mode -> Nullable<SmallInt>,
        sides -> SmallInt,
        color_mode -> SmallInt,
        copies -> Integer,
        media -> Nullable<Text>,
        impressions -> Nullable<Integer>,
        created_at -> BigInt,
        processing_at -> Nullable<BigInt>,
        completed_at -> Nullable<BigInt>,
        expires_at -> BigInt,
    }
}

diesel::table! {
    documents (id) {
        id -> BigInt,
        job_id -> BigInt,
        file_name -> Text,
        wrapped_key -> Nullable<Binary>,
        format -> SmallInt,
        name -> Nullable<Text>,
        size_bytes -> BigInt,
        sha256 -> Text,
        pages -> Nullable<Integer>,
        created_at -> BigInt,
        purged_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    audit_events (id) {
        id -> BigInt,
        at -> BigInt,
        actor -> Text,
        action -> Text,
        object -> Text,
        detail -> Text,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::joinable!(documents -> jobs (job_id));
diesel::allow_tables_to_appear_in_same_query!(jobs, documents, audit_events);
