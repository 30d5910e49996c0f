#!/usr/bin/env bash
# An MLflow tracking server on PostgreSQL, for a team: many servers or users may share it.
#
# The password never goes on the command line (where `ps` shows it): libpq reads PGPASSWORD
# or ~/.pgpass (mode 0600, line `host:port:database:user:password`).
#
#   PGHOST=db.cluster PGUSER=mlflow PGDATABASE=mlflow mlflow/start-postgres.sh
#
# Needs `pip install psycopg2-binary` next to mlflow. Settings (environment): PGHOST, PGPORT
# (5432), PGUSER, PGDATABASE (mlflow), MLFLOW_ARTIFACTS (shared storage, or s3://...),
# MLFLOW_HOST (127.0.0.1), MLFLOW_PORT, MLFLOW_WORKERS, MLFLOW_AUTH=1 (point basic_auth.ini's
# database_uri at the same PostgreSQL server: a local SQLite file would be lost with the
# host), MLFLOW.
set -euo pipefail
source "$(dirname "$0")/server-common.sh"

: "${PGHOST:?set PGHOST to the PostgreSQL host}"
: "${PGUSER:?set PGUSER to the PostgreSQL user}"
PGPORT=${PGPORT:-5432}
PGDATABASE=${PGDATABASE:-mlflow}
: "${MLFLOW_ARTIFACTS:?set MLFLOW_ARTIFACTS to a shared folder or an object-store URI}"
print_address

exec "$MLFLOW" server \
    --backend-store-uri "postgresql://$PGUSER@$PGHOST:$PGPORT/$PGDATABASE" \
    --artifacts-destination "$MLFLOW_ARTIFACTS" \
    --host "$MLFLOW_HOST" --port "$MLFLOW_PORT" --workers "$MLFLOW_WORKERS" \
    "${server_args[@]}"
