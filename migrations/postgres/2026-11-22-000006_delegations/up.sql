-- Delegations: an owner lets a user or a group release their jobs (a secretary for a doctor),
-- optionally until a time. Revoked rows stay as history.
CREATE TABLE delegations (
    id BIGSERIAL PRIMARY KEY,
    owner_uid TEXT NOT NULL,
    delegate_kind SMALLINT NOT NULL,
    delegate TEXT NOT NULL,
    until_at BIGINT,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX delegations_owner ON delegations (owner_uid);
CREATE INDEX delegations_delegate ON delegations (delegate_kind, delegate);
