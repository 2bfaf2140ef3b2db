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
        color_used -> Nullable<Bool>,
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
        seq -> BigInt,
        device -> Text,
        outcome -> Text,
    }
}

diesel::table! {
    scan_captures (id) {
        id -> BigInt,
        uuid -> Text,
        channel -> Text,
        device_id -> Nullable<BigInt>,
        device_name -> Text,
        received_at -> BigInt,
        file_name -> Text,
        master_file -> Text,
        wrapped_key -> Binary,
        size_bytes -> BigInt,
        sha256 -> Text,
        duplicate_of -> Nullable<BigInt>,
        sidecar -> Nullable<Text>,
        uid -> Nullable<Text>,
        attribution_method -> Text,
        attribution_strength -> Text,
        attributes -> Text,
        format -> Nullable<Text>,
        pages -> Nullable<Integer>,
        stage -> Text,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        lease_node -> Nullable<Text>,
        lease_until -> Nullable<BigInt>,
        quarantine_reason -> Nullable<Text>,
        quarantine_stage -> Nullable<Text>,
        updated_at -> BigInt,
    }
}

diesel::table! {
    scan_documents (id) {
        id -> BigInt,
        uuid -> Text,
        capture_id -> BigInt,
        part -> Integer,
        pages -> Text,
        cover_page -> Nullable<Integer>,
        patient -> Nullable<Text>,
        encounter -> Nullable<Text>,
        category -> Nullable<Text>,
        identity -> Nullable<Text>,
        category_label -> Nullable<Text>,
        retention -> Nullable<Text>,
        stage -> Text,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        lease_node -> Nullable<Text>,
        lease_until -> Nullable<BigInt>,
        quarantine_reason -> Nullable<Text>,
        quarantine_stage -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
        qc_lot -> Nullable<Text>,
        qc_sampled -> SmallInt,
        qc_decision -> Nullable<Text>,
        qc_reviewer -> Nullable<Text>,
    }
}

diesel::table! {
    scan_seals (document_id) {
        document_id -> BigInt,
        rendition_file -> Text,
        rendition_key -> Binary,
        rendition_sha256 -> Text,
        rendition_size -> BigInt,
        tsa_token -> Binary,
        tsa_time -> Text,
        sealed_at -> BigInt,
        delivered_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    qc_lots (lot) {
        lot -> Text,
        state -> Text,
        seed -> Nullable<BigInt>,
        size -> Nullable<Integer>,
        sample -> Nullable<Integer>,
        last_added_at -> BigInt,
        decided_at -> Nullable<BigInt>,
        decided_by -> Nullable<Text>,
    }
}

diesel::table! {
    audit_cursors (name) {
        name -> Text,
        seq -> BigInt,
    }
}

diesel::table! {
    directory_users (uid_key) {
        uid_key -> Text,
        uid -> Text,
        dn -> Text,
        display_name -> Text,
        mail -> Text,
        department -> Text,
        cost_centre -> Text,
        groups -> Text,
        badges -> Text,
        fetched_at -> BigInt,
    }
}

diesel::table! {
    directory_badges (badge, uid_key) {
        badge -> Text,
        uid_key -> Text,
    }
}

diesel::table! {
    badge_registrations (id) {
        id -> BigInt,
        badge -> Text,
        uid -> Text,
        uid_key -> Text,
        created_at -> BigInt,
        created_by -> Text,
        revoked_at -> Nullable<BigInt>,
        revoked_by -> Nullable<Text>,
    }
}

diesel::table! {
    user_pins (uid_key) {
        uid_key -> Text,
        pin_hash -> Text,
        updated_at -> BigInt,
    }
}

diesel::table! {
    devices (id) {
        id -> BigInt,
        name -> Text,
        uri -> Text,
        driver -> Text,
        site -> Text,
        building -> Text,
        floor -> Text,
        service -> Text,
        capabilities -> Text,
        token_hash -> Text,
        token_rotated_at -> BigInt,
        created_at -> BigInt,
        updated_at -> BigInt,
        removed_at -> Nullable<BigInt>,
        tls_pin -> Nullable<Text>,
    }
}

diesel::table! {
    deliveries (id) {
        id -> BigInt,
        job_id -> BigInt,
        device_id -> BigInt,
        node -> Text,
        actor -> Text,
        started_at -> BigInt,
        ended_at -> Nullable<BigInt>,
        outcome -> Nullable<Text>,
        impressions -> Nullable<Integer>,
    }
}

diesel::table! {
    policy_rules (id) {
        id -> BigInt,
        position -> Integer,
        name -> Text,
        enabled -> SmallInt,
        conditions -> Text,
        actions -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
        updated_by -> Text,
    }
}

diesel::table! {
    console_sessions (id) {
        id -> Text,
        uid -> Text,
        roles -> Text,
        csrf -> Text,
        address -> Nullable<Text>,
        created_at -> BigInt,
        last_seen_at -> BigInt,
        ended_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    quotas (id) {
        id -> BigInt,
        scope -> Text,
        name -> Text,
        color -> SmallInt,
        monthly_pages -> Integer,
        hard -> SmallInt,
        created_at -> BigInt,
        created_by -> Text,
    }
}

diesel::table! {
    page_usage (id) {
        id -> BigInt,
        month -> Text,
        uid -> Text,
        department -> Text,
        color -> SmallInt,
        pages -> Integer,
        job_id -> BigInt,
        at -> BigInt,
    }
}

diesel::table! {
    release_sessions (id) {
        id -> Text,
        uid -> Text,
        device_id -> BigInt,
        degraded -> SmallInt,
        created_at -> BigInt,
        expires_at -> BigInt,
        ended_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    delegations (id) {
        id -> BigInt,
        owner_uid -> Text,
        delegate_kind -> SmallInt,
        delegate -> Text,
        until_at -> Nullable<BigInt>,
        created_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::joinable!(documents -> jobs (job_id));
diesel::joinable!(directory_badges -> directory_users (uid_key));
diesel::allow_tables_to_appear_in_same_query!(
    jobs,
    documents,
    audit_cursors,
    scan_captures,
    scan_documents,
    qc_lots,
    scan_seals,
    audit_events,
    directory_users,
    directory_badges,
    badge_registrations,
    user_pins,
    devices,
    release_sessions,
    delegations,
    deliveries,
    policy_rules,
    console_sessions,
    quotas,
    page_usage
);
