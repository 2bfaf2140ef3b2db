-- Folio queues take one document per job; the index makes that hold under concurrency.
DROP INDEX documents_job_id;
CREATE UNIQUE INDEX documents_one_per_job ON documents (job_id);
