# Sourced by the start scripts: settings shared by every way of running the server.
# Not executable on its own.

# Databases, artifacts and logs hold other people's work and the users' password hashes:
# everything the server creates is readable by this user only.
umask 077

MLFLOW=${MLFLOW:-mlflow}
# Only this machine, unless told otherwise: MLFLOW_HOST=0.0.0.0 lets compute nodes (and anyone
# else on the network) reach it; then use basic auth, behind a TLS proxy or an SSH tunnel.
MLFLOW_HOST=${MLFLOW_HOST:-127.0.0.1}
MLFLOW_PORT=${MLFLOW_PORT:-5000}
MLFLOW_WORKERS=${MLFLOW_WORKERS:-2}

# The server's background job workers (several processes, about 1 GB) serve GenAI features
# that sweeps do not use; a login or service node is shared.
export MLFLOW_SERVER_ENABLE_JOB_EXECUTION=${MLFLOW_SERVER_ENABLE_JOB_EXECUTION:-false}

# MLflow refuses requests whose Host header it does not know (DNS-rebinding protection):
# compute nodes address this node by its name, which the default list (localhost and private
# IP addresses) lacks. MLFLOW_SERVER_ALLOWED_HOSTS, when set, replaces this list.
server_args=()
if [[ -z "${MLFLOW_SERVER_ALLOWED_HOSTS:-}" ]]; then
    short=$(hostname -s 2>/dev/null || hostname)
    full=$(hostname -f 2>/dev/null || echo "$short")
    allowed="localhost,localhost:*,127.0.0.1,127.0.0.1:*,$short,$short:*,$full,$full:*"
    allowed+=",10.*,192.168.*,172.1[6-9].*,172.2[0-9].*,172.3[0-1].*"
    server_args+=(--allowed-hosts "$allowed${MLFLOW_EXTRA_ALLOWED_HOSTS:+,$MLFLOW_EXTRA_ALLOWED_HOSTS}")
fi

# Basic auth (MLFLOW_AUTH=1): needs `pip install 'mlflow[auth]'` and a secret key that stays
# the same across restarts. Users log in with MLFLOW_TRACKING_USERNAME / _PASSWORD. The users
# live in basic_auth.db, beside mlflow.db (basic_auth.ini names it relative to the folder the
# server runs in, which the start scripts make the database folder), and are backed up with it.
if [[ "${MLFLOW_AUTH:-0}" == 1 ]]; then
    if [[ -z "${MLFLOW_FLASK_SERVER_SECRET_KEY:-}" ]]; then
        echo "MLFLOW_AUTH=1 needs MLFLOW_FLASK_SERVER_SECRET_KEY (e.g. from a file only you can read)" >&2
        exit 2
    fi
    export MLFLOW_AUTH_CONFIG_PATH=${MLFLOW_AUTH_CONFIG_PATH:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/basic_auth.ini}
    server_args+=(--app-name basic-auth)
    echo "note: basic auth sends passwords in clear over plain HTTP: reach this server through" \
         "a TLS proxy or an SSH tunnel (mlflow/README.md)" >&2
elif [[ "$MLFLOW_HOST" != 127.0.0.1 && "$MLFLOW_HOST" != localhost ]]; then
    echo "warning: listening on $MLFLOW_HOST without auth: anyone who reaches this port can read" \
         "and change every run (MLFLOW_AUTH=1, mlflow/README.md)" >&2
fi

# SQLite's locks are unreliable on network filesystems: warn when the database would live on one.
warn_if_network_fs() {
    local fstype
    fstype=$(stat -f -c %T "$1" 2>/dev/null || echo unknown)
    case "$fstype" in
        nfs*|lustre|gpfs|beegfs|cifs|smb*|ceph*|panfs|wekafs|fuse.sshfs)
            echo "warning: $1 is on a $fstype filesystem; put the SQLite database on a local disk" \
                 "(MLFLOW_DB_DIR) or use mlflow/start-postgres.sh" >&2 ;;
    esac
}

print_address() {
    local name
    name=$(hostname -f 2>/dev/null || hostname)
    [[ "$MLFLOW_HOST" == 127.0.0.1 ]] && name=127.0.0.1
    echo "MLflow server: http://$name:$MLFLOW_PORT  (tasks: export MLFLOW_TRACKING_URI=http://$name:$MLFLOW_PORT)" >&2
}
