-- Run once by the postgres image on an empty data directory
-- (/docker-entrypoint-initdb.d). One database per service (DESIGN.md: each
-- service owns its schema, in its own database in production), all owned by
-- the POSTGRES_USER the compose file creates. The services create their
-- schemas and tables themselves (migrations in sql/<service>, applied at start).
CREATE DATABASE report;
CREATE DATABASE reviewer;
CREATE DATABASE reward;
