-- IT's print rules, in order (position), first match wins per setting. Conditions and actions
-- are JSON documents validated by Folio (src/policy/rules.rs) before they are stored.
CREATE TABLE policy_rules (
    id BIGSERIAL PRIMARY KEY,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    enabled SMALLINT NOT NULL,
    conditions TEXT NOT NULL,
    actions TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);
CREATE INDEX policy_rules_position ON policy_rules (position);
