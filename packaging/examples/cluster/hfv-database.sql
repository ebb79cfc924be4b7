-- The broker's role and database. Run once, on the primary, as postgres:
--   sudo -u postgres psql -v ON_ERROR_STOP=1 -f hfv-database.sql
--   sudo -u postgres psql -c '\password hfv'
-- The role owns the hfv database and nothing else: no superuser, no
-- CREATEDB, no CREATEROLE, no replication. brokerd creates its tables in the
-- database's public schema at its first start (PostgreSQL 15 lets the
-- database owner create there).
CREATE ROLE hfv LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
CREATE DATABASE hfv OWNER hfv ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE hfv FROM PUBLIC;
-- Pinned for the role whatever the server default becomes: commits wait
-- for the synchronous standby, and nothing cancels that wait on a timer
-- (a cancelled wait reports the commit as done: README.md).
ALTER ROLE hfv SET synchronous_commit = 'on';
ALTER ROLE hfv SET statement_timeout = 0;
