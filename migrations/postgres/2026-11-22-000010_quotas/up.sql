-- Monthly page budgets: per user or per department, colour and black & white apart, soft
-- (warn) or hard (refuse).
CREATE TABLE quotas (
    id BIGSERIAL PRIMARY KEY,
    scope TEXT NOT NULL,
    name TEXT NOT NULL,
    color SMALLINT NOT NULL,
    monthly_pages INTEGER NOT NULL,
    hard SMALLINT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL
);
CREATE UNIQUE INDEX quotas_one_per_scope ON quotas (scope, name, color);
-- Pages printed, counted when a job completes (aborted or canceled jobs are never counted),
-- with the owner's department at that time.
CREATE TABLE page_usage (
    id BIGSERIAL PRIMARY KEY,
    month TEXT NOT NULL,
    uid TEXT NOT NULL,
    department TEXT NOT NULL,
    color SMALLINT NOT NULL,
    pages INTEGER NOT NULL,
    job_id BIGINT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX page_usage_user ON page_usage (month, uid);
CREATE INDEX page_usage_department ON page_usage (month, department);
