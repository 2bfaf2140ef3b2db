-- Directory users seen by Folio (a cache with a time of fetch): badges and departments still
-- resolve when the directory is down. Keys are lower-cased login names.
CREATE TABLE directory_users (
    uid_key TEXT PRIMARY KEY,
    uid TEXT NOT NULL,
    dn TEXT NOT NULL,
    display_name TEXT NOT NULL,
    mail TEXT NOT NULL,
    department TEXT NOT NULL,
    cost_centre TEXT NOT NULL,
    groups TEXT NOT NULL,
    badges TEXT NOT NULL,
    fetched_at BIGINT NOT NULL
);

-- Normalised card numbers of cached users (several per person; one card may wrongly be held
-- by two people, which Folio reports instead of choosing).
CREATE TABLE directory_badges (
    badge TEXT NOT NULL,
    uid_key TEXT NOT NULL REFERENCES directory_users (uid_key) ON DELETE CASCADE,
    PRIMARY KEY (badge, uid_key)
);
CREATE INDEX directory_badges_uid_key ON directory_badges (uid_key);

-- Cards linked by their holders in Folio (never written to the directory); revoked rows stay
-- as history.
CREATE TABLE badge_registrations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    badge TEXT NOT NULL,
    uid TEXT NOT NULL,
    uid_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at BIGINT,
    revoked_by TEXT
);
CREATE UNIQUE INDEX badge_registrations_active ON badge_registrations (badge)
    WHERE revoked_at IS NULL;
CREATE INDEX badge_registrations_uid_key ON badge_registrations (uid_key);

-- Optional release PINs (argon2id hashes).
CREATE TABLE user_pins (
    uid_key TEXT PRIMARY KEY,
    pin_hash TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
