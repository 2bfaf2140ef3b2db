DROP TABLE page_usage;
DROP TABLE quotas;
