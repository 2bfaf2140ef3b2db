DROP TABLE release_sessions;
