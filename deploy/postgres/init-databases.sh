#!/bin/sh
# First start of the PostgreSQL container only (docker-entrypoint-initdb.d; an existing data volume skips it):
# one login role and database(s) per user of the server, neither of them a superuser.
#
#   temporal  owns `temporal` and `temporal_visibility` (temporalio/auto-setup creates the schemas in them)
#   runflow   owns `runflow` (the store; `runflow db upgrade` migrates it)
#
# The passwords come from POSTGRES_TEMPORAL_PASSWORD and POSTGRES_RUNFLOW_PASSWORD. Changing them later in .env
# does not change them here: run `ALTER ROLE … PASSWORD …` as well (README, "Production (docker compose)").
#
# The entrypoint sources this file when it is not executable, so: no `set -u`, no `exit`.
psql --set ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    --set temporal_password="$POSTGRES_TEMPORAL_PASSWORD" --set runflow_password="$POSTGRES_RUNFLOW_PASSWORD" <<'SQL'
CREATE ROLE temporal LOGIN PASSWORD :'temporal_password';
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;
CREATE ROLE runflow LOGIN PASSWORD :'runflow_password';
CREATE DATABASE runflow OWNER runflow;
\connect temporal_visibility
-- the visibility schema asks for this extension; created here by the superuser, so the owner need not
CREATE EXTENSION IF NOT EXISTS btree_gin;
SQL
