#!/usr/bin/env bash
# An MLflow tracking server on SQLite, for one researcher or a small group.
#
# One server process is the only writer of the database, which must sit on a LOCAL disk
# (SQLite on NFS/Lustre is not safe). Tasks log over HTTP; artifacts are uploaded through the
# server into MLFLOW_ARTIFACTS.
#
#   MLFLOW_DB_DIR=/local/$USER/mlflow mlflow/start-sqlite.sh
#
# Settings (environment): MLFLOW_DB_DIR (default ~/.babelsum/mlflow), MLFLOW_ARTIFACTS
# (default $MLFLOW_DB_DIR/artifacts), MLFLOW_HOST (127.0.0.1; 0.0.0.0 for compute nodes),
# MLFLOW_PORT (5000), MLFLOW_WORKERS (2), MLFLOW_AUTH=1 for basic auth (users in
# $MLFLOW_DB_DIR/basic_auth.db), MLFLOW (the mlflow executable). Created with umask 077.
set -euo pipefail
source "$(dirname "$0")/server-common.sh"

MLFLOW_DB_DIR=${MLFLOW_DB_DIR:-$HOME/.babelsum/mlflow}
MLFLOW_ARTIFACTS=${MLFLOW_ARTIFACTS:-$MLFLOW_DB_DIR/artifacts}
mkdir -p "$MLFLOW_DB_DIR" "$MLFLOW_ARTIFACTS"
MLFLOW_DB_DIR=$(cd "$MLFLOW_DB_DIR" && pwd)
MLFLOW_ARTIFACTS=$(cd "$MLFLOW_ARTIFACTS" && pwd)
warn_if_network_fs "$MLFLOW_DB_DIR"
print_address
cd "$MLFLOW_DB_DIR"  # basic_auth.ini's relative sqlite:///basic_auth.db lands beside mlflow.db

exec "$MLFLOW" server \
    --backend-store-uri "sqlite:///$MLFLOW_DB_DIR/mlflow.db" \
    --artifacts-destination "$MLFLOW_ARTIFACTS" \
    --host "$MLFLOW_HOST" --port "$MLFLOW_PORT" --workers "$MLFLOW_WORKERS" \
    "${server_args[@]}"
