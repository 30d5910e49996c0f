"""Tracking: what a task logs, journaled first, then sent to MLflow.

- tracker.py    Tracker (what stages call) and the background pusher
- journal.py    the task's append-only journal and how far MLflow has it
- runs.py       experiment, parent run per sweep, child run per task; opening a task's tracker
- store.py      the MLflow client calls, batched, with errors sorted into unreachable/rejected
- sync.py       `launch sync`: replay journals into MLflow
- uri.py        which store a sweep uses, whether it is safe, `launch ui`
- redaction.py  secrets masked before anything is journaled
- provenance.py what reproduces a run: git commit and diff, versions, image hash, revisions
- gathered.py   what gather adds to other runs: differences from base, registered models
"""

from babelsum.tracking.runs import experiment_name, open_task_tracker, start_sweep_run
from babelsum.tracking.store import flatten
from babelsum.tracking.sync import sync_sweep
from babelsum.tracking.tracker import Tracker
from babelsum.tracking.uri import tracking_uri, ui_command, warn_if_unsafe_store

__all__ = [
    "Tracker",
    "experiment_name",
    "flatten",
    "open_task_tracker",
    "start_sweep_run",
    "sync_sweep",
    "tracking_uri",
    "ui_command",
    "warn_if_unsafe_store",
]
