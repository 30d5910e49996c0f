"""What gather adds to the runs of other tasks: each evaluation run gets its difference from
base (computed across cells, so only gather knows it), each trained model's run its entry in
the model registry (`tracking.register_models`).

The records go into those tasks' own journals, like everything they logged themselves, and
are pushed from there: a server that is down loses nothing, and `launch sync` replays them
once. A task without a journal (its output was reused from another sweep) has no run here,
and is left alone.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import socket
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from babelsum.tracking.runs import RunSink, config_redactor
from babelsum.tracking.store import MlflowStore
from babelsum.tracking.tracker import Tracker
from babelsum.tracking.uri import shown_uri, tracking_uri

if TYPE_CHECKING:
    from babelsum.config import SweepConfig
    from babelsum.plan import Task
    from babelsum.state import SweepFolder

log = logging.getLogger("babelsum.tracking")

MODEL_POINTER = "model"  # the artifact folder a registered version's source names
POINTER_FILES = ("config.json", "adapter_config.json", "generation_config.json")
MAX_POINTER_FILE = 2**20


def journaled_tracker(folder: SweepFolder, config: SweepConfig, key: str) -> Tracker | None:
    """A tracker that appends to task `key`'s journal (nothing is pushed until `push`);
    None when the task has no journal, hence no run."""
    journal = folder.journal_path(key)
    if not journal.is_file():
        return None
    return Tracker(journal, redactor=config_redactor(config))


def log_task_metrics(
    folder: SweepFolder, config: SweepConfig, metrics: dict[str, dict[str, float]]
) -> list[str]:
    """Journal `metrics[key]` into each task's run; the keys journaled (then `push` them)."""
    done = []
    for key, values in metrics.items():
        tracker = journaled_tracker(folder, config, key)
        if tracker is not None and values:
            tracker.log_metrics(values)
            done.append(key)
    return done


def register_trained_model(folder: SweepFolder, config: SweepConfig, task: Task) -> bool:
    """Journal a registry entry for the model of train `task`: a version of
    `<study>-<model>-<method>-<train_lang>` whose source is a small artifact folder naming the
    model folder (the weights, gigabytes, stay where training wrote them). False when the
    task has no run or no model folder."""
    key, params = task.key, task.params
    tracker = journaled_tracker(folder, config, key)
    model_dir = folder.output_dir(key) / "model"
    if tracker is None or not model_dir.is_dir():
        return False
    name = "-".join([config.study, params["model"], params["method"], params["train_lang"]])
    fingerprint = weights_fingerprint(folder.output_dir(key))
    with tempfile.TemporaryDirectory(dir=folder.task_dir(key)) as tmp:
        pointer = Path(tmp) / MODEL_POINTER
        pointer.mkdir()
        files = sorted(p for p in model_dir.rglob("*") if p.is_file())
        location = {
            "path": str(model_dir.resolve()),
            "host": socket.gethostname(),
            "task_key": key,
            "files": len(files),
            "bytes": sum(p.stat().st_size for p in files),
            "fingerprint": fingerprint,
        }
        (pointer / "weights.json").write_text(json.dumps(location, indent=2) + "\n")
        for small in POINTER_FILES:
            source = model_dir / small
            if source.is_file() and source.stat().st_size <= MAX_POINTER_FILE:
                shutil.copyfile(source, pointer / small)
        tracker.log_artifact(pointer)
    tags = {"weights_path": location["path"], "fingerprint": fingerprint, "task_key": key}
    tags |= {k: v for k, v in params.items() if k in ("model", "method", "train_lang", "seed")}
    tracker.register_model(name, MODEL_POINTER, tags)
    return True


def weights_fingerprint(output: Path) -> str:
    """What tells two trainings' weights apart without reading gigabytes: the train summary
    and each file's name and size."""
    digest = hashlib.sha256()
    summary = output / "train_summary.json"
    if summary.is_file():
        digest.update(summary.read_bytes())
    for path in sorted(p for p in (output / "model").rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(output)}:{path.stat().st_size}\n".encode())
    return digest.hexdigest()[:16]


def push(folder: SweepFolder, config: SweepConfig, keys: list[str], wait_s: float = 60.0) -> int:
    """Push the journals of `keys` to their runs now; how many were pushed. An unusable
    MLflow is one warning: `launch sync` sends the rest."""
    if not config.tracking.enabled or not keys:
        return 0
    uri = tracking_uri(folder.root, config)
    store = MlflowStore(uri)
    pushed = 0
    for key in keys:
        try:
            if RunSink(folder, config, key, uri, store).sync(wait_s) is not None:
                pushed += 1
        except Exception as exc:  # tracking never fails gather; the journals keep it all
            log.warning(
                "MLflow at %s cannot be used (%s); `launch sync %s` sends gather's results "
                "to the runs of %d tasks later",
                shown_uri(uri),
                exc,
                folder.root,
                len(keys) - pushed,
            )
            break
    return pushed
