"""Where a sweep's MLflow runs live, whether that place is safe, and how to open it.

The store is chosen in this order:
1. `MLFLOW_TRACKING_URI` in the environment (MLflow's own convention);
2. `tracking.uri` in the config;
3. the store the sweep was started with (recorded in sweep.json), so that `launch sync` and
   `launch ui` in a fresh shell find it again;
4. `sqlite:///<sweep_dir>/mlflow.db`: a local store, right for a laptop or a single node.

SQLite's file locks are unreliable on network filesystems, so a SQLite store on NFS or Lustre
that many tasks write at once is worth a warning; a cluster wants an MLflow server
(see mlflow/README.md).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from babelsum.config import SweepConfig
from babelsum.errors import TrackingError
from babelsum.state import SweepFolder
from babelsum.tracking.redaction import MASK, Redactor
from babelsum.tracking.store import sqlite_path

URI_KEY = "mlflow_tracking_uri"  # in sweep.json
NETWORK_FILESYSTEMS = {
    "nfs",
    "nfs4",
    "lustre",
    "gpfs",
    "beegfs",
    "cifs",
    "smb3",
    "smbfs",
    "ceph",
    "fuse.ceph",
    "cephfs",
    "panfs",
    "wekafs",
    "fuse.sshfs",
    "9p",
}


def default_uri(sweep_dir: Path) -> str:
    return f"sqlite:///{Path(sweep_dir).resolve() / 'mlflow.db'}"


def tracking_uri(sweep_dir: Path, config: SweepConfig) -> str:
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    if config.tracking.uri:
        return config.tracking.uri
    folder = SweepFolder(sweep_dir)
    recorded = folder.meta().get(URI_KEY) if folder.exists() else None
    if recorded and MASK not in recorded:
        return recorded
    return default_uri(sweep_dir)


def shown_uri(uri: str) -> str:
    """The URI as it may be printed or recorded (a password in it masked)."""
    return Redactor({}).text(uri)


def filesystem_type(path: Path, mounts: Path = Path("/proc/mounts")) -> str | None:
    """The type of the filesystem holding `path` (the longest mount point above it)."""
    try:
        lines = mounts.read_text().splitlines()
    except OSError:
        return None
    path = Path(os.path.abspath(path))
    best, best_type = "", None
    for line in lines:
        fields = line.split()
        if len(fields) < 3:
            continue
        # /proc/mounts writes a space in a mount point as \040
        point = fields[1].encode().decode("unicode_escape")
        inside = path == Path(point) or Path(point) in path.parents
        if inside and len(point) >= len(best):
            best, best_type = point, fields[2]
    return best_type


def warn_if_unsafe_store(
    uri: str, parallel_tasks: int, *, mounts: Path = Path("/proc/mounts")
) -> str | None:
    """A warning when `parallel_tasks` tasks would write one SQLite file on a network filesystem."""
    db = sqlite_path(uri)
    if db is None or parallel_tasks <= 1:
        return None
    fstype = filesystem_type(db, mounts)
    if fstype is None or fstype.lower() not in NETWORK_FILESYSTEMS:
        return None
    return (
        f"MLflow store {db} is SQLite on a {fstype} filesystem and up to {parallel_tasks} tasks "
        "write to it at once: SQLite's locks are unreliable there (lost or 'database is locked' "
        "writes). Run an MLflow server (mlflow/README.md) and set MLFLOW_TRACKING_URI or "
        "tracking.uri to it."
    )


def ui_command(
    folder: SweepFolder, config: SweepConfig, port: int = 5000, host: str = "127.0.0.1"
) -> list[str]:
    """The command that serves the MLflow UI on this sweep's store (localhost by default:
    the UI has no login, so another `host` lets whoever reaches it see and edit the runs).

    From a laptop: `ssh -L 5000:localhost:5000 LOGIN_NODE`, then open http://localhost:5000.
    """
    uri = tracking_uri(folder.root, config)
    if sqlite_path(uri) is None:
        raise TrackingError(
            f"{folder.root} logs to the MLflow server at {shown_uri(uri)}; open that address "
            "in a browser (no local UI needed)"
        )
    if not sqlite_path(uri).exists():
        raise TrackingError(
            f"no MLflow store at {sqlite_path(uri)} yet: the sweep has logged nothing there "
            f"(if it ran with tracking off or the server down, `launch sync {folder.root}` first)"
        )
    return [
        "env",
        # the server's background job workers (several processes, ~1 GB) serve GenAI
        # features that a sweep's UI does not need; a login node is shared
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false",
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        uri,
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        "1",
    ]
