-- Copiers and printers jobs are released to. A removed device keeps its row (reports and the
-- audit trail name it) with removed_at set; names are unique among devices in service.
CREATE TABLE devices (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    uri TEXT NOT NULL,
    driver TEXT NOT NULL,
    site TEXT NOT NULL,
    building TEXT NOT NULL,
    floor TEXT NOT NULL,
    service TEXT NOT NULL,
    capabilities TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    token_rotated_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    removed_at BIGINT
);
CREATE UNIQUE INDEX devices_name_in_service ON devices (name) WHERE removed_at IS NULL;
