"""What a task logs: params, tags, metrics and artifacts; journaled first, then sent to MLflow.

Every call is first appended to the task's journal (`tasks/<key>/journal.jsonl`), with
secrets masked, so nothing is lost when the tracking server is down. The tracker then pushes
the journal to the task's MLflow run: params, tags and artifacts at once, metrics in batches
(every `batch_records` records or `batch_seconds` seconds), so a training loop pays for one
HTTP call every few seconds, not one per step.

An MLflow problem never fails the task: the tracker warns once, keeps journaling, and tries
again a minute later; `launch sync SWEEP_DIR` replays whatever did not arrive.

In MLflow: one experiment per study, one parent run per sweep (holding the resolved config),
one child run per task (tag `mlflow.parentRunId`). A requeued or resubmitted task finds its
run id in its folder (`mlflow_sync.json`) and logs into the same run.
"""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from babelsum.mlflow_store import MAX_PARAMS_OR_TAGS, MlflowStore, Rejected, Unreachable
from babelsum.redaction import Redactor
from babelsum.state import SweepFolder
from babelsum.task_journal import Journal, SyncState, read_entries
from babelsum.tracking_store import (
    URI_KEY,
    TrackingError,
    shown_uri,
    tracking_uri,
    ui_command,
    warn_if_unsafe_store,
)

if TYPE_CHECKING:
    from babelsum.config import SweepConfig
    from babelsum.plan import Task

__all__ = [
    "Tracker",
    "TrackingError",
    "open_task_tracker",
    "start_sweep_run",
    "sync_sweep",
    "tracking_uri",
    "ui_command",
    "warn_if_unsafe_store",
]

log = logging.getLogger("babelsum.tracking")

PARENT_RUNS_KEY = "mlflow_parent_runs"  # sweep.json: shown store URI -> parent run id
TEXT_SUFFIXES = {".json", ".jsonl", ".md", ".txt", ".yaml", ".yml", ".csv", ".tsv", ".log"}
MAX_REDACTED_TEXT = 50 * 2**20  # larger text artifacts are copied as they are


class RunSink:
    """Pushes one task's journal to its MLflow run, creating the run on first use."""

    def __init__(
        self,
        folder: SweepFolder,
        config: SweepConfig,
        key: str,
        uri: str,
        store: MlflowStore | None = None,
        ends_sweep: bool = False,
    ):
        self.folder, self.config, self.key, self.uri = folder, config, key, uri
        self.store = store or MlflowStore(uri)
        self.ends_sweep = ends_sweep  # gather: its end is the sweep's end
        self.state = SyncState(folder.task_dir(key))

    def sync(self, wait_s: float) -> int | None:
        """Push what the store lacks; the number of records pushed, or None if another
        process holds the task's sync lock for longer than `wait_s`."""
        shown = shown_uri(self.uri)
        with self.state.lock(wait_s) as held:
            if not held:
                return None
            sync = self.state.load(shown)
            if sync.run_id is None:
                sync.run_id = self._create_run()
                self.state.save(shown, sync)
            rejected_before, pushed_before = len(sync.rejected), sync.pushed
            self.store.push(
                sync.run_id,
                read_entries(self.folder.journal_path(self.key), sync.offset),
                self.folder.task_dir(self.key),
                sync,
                save=lambda: self.state.save(shown, sync),
                on_status=self._sweep_status if self.ends_sweep else None,
            )
            for refused in sync.rejected[rejected_before:]:
                log.warning("MLflow refused a record of %s: %s", self.key, refused["error"])
            return sync.pushed - pushed_before

    def _create_run(self) -> str:
        parent = ensure_parent_run(self.folder, self.config, self.store, self.uri)
        return self.store.create_run(
            experiment_name(self.config), self.key, {"mlflow.parentRunId": parent}
        )

    def _sweep_status(self, status: str, end_ms: int | None) -> None:
        parent = ensure_parent_run(self.folder, self.config, self.store, self.uri)
        if end_ms is None:
            self.store.call("update_run", parent, status=status)
        else:
            self.store.call("set_terminated", parent, status=status, end_time=end_ms)


class Tracker:
    """What stages log through (`ctx.tracker`). Without a sink it only journals."""

    def __init__(
        self,
        journal: Path,
        sink: RunSink | None = None,
        *,
        batch_records: int = 200,
        batch_seconds: float = 10.0,
        retry_seconds: float = 60.0,
        redactor: Redactor | None = None,
    ):
        self.journal = journal
        self.artifacts_dir = journal.parent / "artifacts"
        self.sink = sink
        self.batch_records, self.batch_seconds = batch_records, batch_seconds
        self.retry_seconds = retry_seconds
        self._writer = Journal(journal)
        self._redactor = redactor or Redactor()
        self._unpushed = 0
        self._last_push = time.monotonic()
        self._retry_at = 0.0  # while MLflow is unreachable: when to try again
        self._warned_unreachable = False
        self._warned_metrics: set[str] = set()
        self._closed = False

    # ------------------------------------------------------------------ what stages call

    def log_params(self, params: dict[str, Any]) -> None:
        self._record("params", urgent=True, params=flatten(self._redactor.mapping(params)))

    def set_tags(self, tags: dict[str, Any]) -> None:
        masked = {str(k): self._redactor.value(str(k), v) for k, v in tags.items()}
        self._record("tags", urgent=True, tags=masked)

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        numbers = {}
        for key, value in metrics.items():
            try:
                numbers[str(key)] = float(value)
            except (TypeError, ValueError):
                if key not in self._warned_metrics:
                    self._warned_metrics.add(key)
                    log.warning("metric %r is not a number (%r); it is not logged", key, value)
        if numbers:
            self._record("metrics", urgent=False, metrics=numbers, step=step)

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        """Log a file or folder; a copy (secrets masked) is kept beside the journal, because
        the original may be renamed or deleted before MLflow can take it."""
        source = Path(path)
        if not source.exists():
            log.warning("log_artifact: %s does not exist; nothing logged", source)
            return
        inner = Path(*[p for p in Path(artifact_path or "").parts if p not in ("..", "/")])
        copy = self.artifacts_dir / inner / source.name
        self._copy_redacted(source, copy)
        self._record(
            "artifact",
            urgent=True,
            file=str(copy.relative_to(self.journal.parent)),
            artifact_path=artifact_path,
        )

    def flush(self) -> None:
        """Push what is pending to MLflow now (not while it is known to be unreachable)."""
        if time.monotonic() >= self._retry_at:
            self._push(wait_s=0.0)

    def close(self, state: str = "FINISHED") -> None:
        """End the run with `state` (FINISHED, FAILED, KILLED); a last try to push everything."""
        if self._closed:
            return
        self._closed = True
        self._writer.append("end", state=state)
        self._push(wait_s=30.0)

    # ------------------------------------------------------------------ opening a task's run

    def start(self, attempt: int) -> None:
        """Journal the start of an attempt: the run is (re)opened as RUNNING."""
        self._writer.append("start", attempt=attempt)

    def connect(self, sink: RunSink) -> None:
        """Start pushing to `sink`, beginning with everything journaled so far."""
        self.sink = sink
        self._push(wait_s=0.0)

    # ------------------------------------------------------------------ internals

    def _record(self, kind: str, urgent: bool, **payload: Any) -> None:
        self._writer.append(kind, **payload)
        self._unpushed += 1
        now = time.monotonic()
        if now < self._retry_at:
            return
        due = self._unpushed >= self.batch_records or now - self._last_push >= self.batch_seconds
        if urgent or due:
            self._push(wait_s=0.0)

    def _push(self, wait_s: float) -> None:
        if self.sink is None:
            return
        try:
            pushed = self.sink.sync(wait_s)
        except Unreachable as exc:
            self._unreachable(str(exc))
            return
        except Exception as exc:  # tracking must never fail the task; the journal keeps all
            self._unreachable(f"{type(exc).__name__}: {exc}")
            return
        if pushed is None:  # `launch sync` is pushing this task right now
            return
        if self._warned_unreachable and self._retry_at:
            log.warning("MLflow at %s is reachable again", shown_uri(self.sink.uri))
        self._unpushed, self._last_push, self._retry_at = 0, time.monotonic(), 0.0

    def _unreachable(self, reason: str) -> None:
        self._retry_at = time.monotonic() + self.retry_seconds
        if not self._warned_unreachable:
            self._warned_unreachable = True
            log.warning(
                "MLflow at %s cannot be used (%s); logging to %s only, retrying every %.0f s; "
                "`launch sync SWEEP_DIR` sends the rest later",
                shown_uri(self.sink.uri),
                reason,
                self.journal,
                self.retry_seconds,
            )

    def _copy_redacted(self, source: Path, copy: Path) -> None:
        if source.is_dir():
            for file in sorted(p for p in source.rglob("*") if p.is_file()):
                self._copy_redacted(file, copy / file.relative_to(source))
            return
        copy.parent.mkdir(parents=True, exist_ok=True)
        if source.suffix.lower() in TEXT_SUFFIXES and source.stat().st_size <= MAX_REDACTED_TEXT:
            try:
                text = source.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                shutil.copyfile(source, copy)
                return
            copy.write_text(self._redactor.text(text), encoding="utf-8")
        else:
            shutil.copyfile(source, copy)


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested params as dot keys: {"train": {"lr": 1}} -> {"train.lr": 1}; lists of plain
    values become one comma-separated value, lists of mappings get an index."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        elif isinstance(value, list | tuple) and any(isinstance(v, Mapping) for v in value):
            for i, item in enumerate(value):
                flat.update(flatten({str(i): item}, f"{name}."))
        elif isinstance(value, list | tuple):
            flat[name] = ",".join(str(v) for v in value) if value else "[]"
        else:
            flat[name] = value
    return flat


def config_redactor(config: SweepConfig) -> Redactor:
    """A redactor that also knows the secrets written in the config (e.g. container.env)."""
    redactor = Redactor()
    redactor.learn(config.model_dump(mode="json"))
    return redactor


def experiment_name(config: SweepConfig) -> str:
    return config.tracking.experiment or config.study


# ---------------------------------------------------------------------- the sweep's parent run


def start_sweep_run(sweep_dir: Path, config: SweepConfig) -> str | None:
    """Create the sweep's parent run (at `launch sweep`); None when tracking is off or MLflow
    cannot be reached now (the first task, or `launch sync`, creates it later)."""
    if not config.tracking.enabled:
        return None
    folder = SweepFolder(sweep_dir)
    uri = tracking_uri(folder.root, config)
    meta = folder.meta()
    folder.update_meta(
        **{URI_KEY: meta.get(URI_KEY) or shown_uri(uri)},
        git_commit=meta.get("git_commit") or git_commit(),
    )
    warning = warn_if_unsafe_store(uri, _parallel_tasks(config, meta.get("executor")))
    if warning:
        log.warning(warning)
    try:
        return ensure_parent_run(folder, config, MlflowStore(uri), uri)
    except (Unreachable, Rejected) as exc:
        log.warning(
            "MLflow at %s cannot be used (%s); the tasks journal what they log and "
            "`launch sync %s` sends it later",
            shown_uri(uri),
            exc,
            sweep_dir,
        )
        return None


def ensure_parent_run(
    folder: SweepFolder, config: SweepConfig, store: MlflowStore, uri: str
) -> str:
    """The sweep's parent run in this store, created (with the resolved config) if missing."""
    shown = shown_uri(uri)
    with folder.lock("mlflow"):
        meta = folder.meta()
        runs = meta.get(PARENT_RUNS_KEY, {})
        if shown in runs:
            return runs[shown]
        run_id = store.create_run(experiment_name(config), meta["id"], _sweep_tags(meta, config))
        _log_config(store, run_id, config)
        first = {} if meta.get("mlflow_parent_run_id") else {"mlflow_parent_run_id": run_id}
        folder.update_meta(**{PARENT_RUNS_KEY: runs | {shown: run_id}}, **first)
        return run_id


def _log_config(store: MlflowStore, run_id: str, config: SweepConfig) -> None:
    from mlflow.entities import Param

    from babelsum.config import dump_config
    from babelsum.mlflow_store import MAX_PARAM_VALUE, clean_key

    redactor = config_redactor(config)
    masked = redactor.mapping(config.model_dump(mode="json"))
    params = [Param(clean_key(k), str(v)[:MAX_PARAM_VALUE]) for k, v in flatten(masked).items()]
    for i in range(0, len(params), MAX_PARAMS_OR_TAGS):
        store.call("log_batch", run_id, params=params[i : i + MAX_PARAMS_OR_TAGS], synchronous=True)
    store.call("log_text", run_id, redactor.text(dump_config(config)), "config.yaml")


def _sweep_tags(meta: dict[str, Any], config: SweepConfig) -> dict[str, str]:
    return {
        "kind": "sweep",
        "sweep_id": str(meta["id"]),
        "study": config.study,
        "config_hash": str(meta.get("config_hash", "")),
        "git_commit": str(meta.get("git_commit") or git_commit()),
        "container_image": config.container.image if config.container else "none",
        "executor": str(meta.get("executor", "")),
    }


def _parallel_tasks(config: SweepConfig, executor: str | None) -> int:
    if executor == "local":
        return config.engine.local_parallel_tasks
    from babelsum.config import STAGES

    return max(config.resources.for_stage(stage).array_parallelism for stage in STAGES)


def git_commit() -> str:
    """The commit of the babelsum checkout that runs (with -dirty for local changes)."""
    import babelsum

    root = Path(babelsum.__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return f"unknown (babelsum {getattr(babelsum, '__version__', '?')}, not a git checkout)"
    try:
        sha = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "diff", "--quiet", "HEAD", "--"], timeout=10
        ).returncode
    except (OSError, subprocess.SubprocessError) as exc:
        return f"unknown ({type(exc).__name__})"
    return sha + ("-dirty" if dirty else "")


# ---------------------------------------------------------------------- a task's run


def open_task_tracker(
    sweep_dir: Path,
    config: SweepConfig,
    task: Task,
    *,
    attempt: int,
    job_id: str | None = None,
    array_job_id: str | None = None,
    array_task_id: int | None = None,
) -> Tracker:
    """The tracker of a task's main process: journals the task's tags and params, then
    (tracking on) connects to the task's MLflow run."""
    folder = SweepFolder(sweep_dir)
    tracker = Tracker(folder.journal_path(task.key), redactor=config_redactor(config))
    tracker.start(attempt)
    tracker.set_tags(task_tags(folder, config, task, attempt, job_id, array_job_id, array_task_id))
    tracker.log_params({"task": task.params, "params_hash": task.params_hash})
    if config.tracking.enabled:
        uri = tracking_uri(folder.root, config)
        tracker.connect(RunSink(folder, config, task.key, uri, ends_sweep=task.stage == "gather"))
    return tracker


def task_tags(
    folder: SweepFolder,
    config: SweepConfig,
    task: Task,
    attempt: int,
    job_id: str | None,
    array_job_id: str | None,
    array_task_id: int | None,
) -> dict[str, Any]:
    """Tags that make the MLflow compare view useful: what the task is, and where it ran."""
    meta = folder.meta() if folder.exists() else {}
    tags: dict[str, Any] = {
        "kind": "task",
        "stage": task.stage,
        "task_key": task.key,
        "sweep_id": meta.get("id", folder.root.name),
        "study": config.study,
        "attempt": attempt,
        "config_hash": meta.get("config_hash", ""),
        "git_commit": meta.get("git_commit") or git_commit(),
        "container_image": config.container.image if config.container else "none",
        "host": socket.gethostname(),
        "slurm_job_id": job_id or "-",
        "slurm_array_job_id": array_job_id or "-",
        "slurm_array_task_id": "-" if array_task_id is None else array_task_id,
    }
    for name in ("model", "method", "train_lang", "eval_lang", "test_set", "shard"):
        if name in task.params:
            value = task.params[name]
            tags[name] = "-" if value is None else value
    return tags


# ---------------------------------------------------------------------- launch sync


def sync_sweep(sweep_dir: Path) -> dict[str, Any]:
    """Send every task journal's records that MLflow lacks; running it twice sends nothing new."""
    from babelsum.runner import load_sweep

    folder, config, plan = load_sweep(sweep_dir)
    uri = tracking_uri(folder.root, config)
    store = MlflowStore(uri)
    report: dict[str, Any] = {
        "tracking_uri": shown_uri(uri),
        "tasks": 0,
        "records_pushed": 0,
        "rejected": 0,
        "busy": [],
    }
    for task in plan.tasks():
        if not folder.journal_path(task.key).exists():
            continue
        sink = RunSink(folder, config, task.key, uri, store, ends_sweep=task.stage == "gather")
        try:
            pushed = sink.sync(wait_s=60.0)
        except (Unreachable, Rejected) as exc:
            raise TrackingError(
                f"MLflow at {shown_uri(uri)} cannot be used ({exc}); start it "
                f"(mlflow/README.md) or set MLFLOW_TRACKING_URI, then `launch sync {sweep_dir}`"
            ) from None
        if pushed is None:
            report["busy"].append(task.key)
            continue
        report["tasks"] += 1
        report["records_pushed"] += pushed
        report["rejected"] += len(sink.state.load(shown_uri(uri)).rejected)
    return report
