#!/usr/bin/env bash
# Run by the postgres image once, when its data volume is empty (/docker-entrypoint-initdb.d):
# MLflow's backend store gets its own role and database next to Airflow's metadata DB, so neither
# service can touch the other's tables. A password change later needs ALTER ROLE by hand.
set -euo pipefail

: "${MLFLOW_DB_PASSWORD:?MLFLOW_DB_PASSWORD must be set (see .env.example)}"

# psql variables (:'name') quote the password, so any character in it is safe.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     --set=mlflow_password="$MLFLOW_DB_PASSWORD" <<'SQL'
CREATE ROLE mlflow LOGIN PASSWORD :'mlflow_password';
CREATE DATABASE mlflow OWNER mlflow;
SQL
