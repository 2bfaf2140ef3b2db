DROP INDEX documents_one_per_job;
CREATE INDEX documents_job_id ON documents (job_id);
