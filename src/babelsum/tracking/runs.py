"""A sweep's runs in MLflow: one experiment per study, a parent run per sweep holding the
resolved config, a child run per task, and how a task's journal reaches its run.

The parent run's id is kept in sweep.json (per tracking store), a task's run id in the task's
`mlflow_sync.json`, so a requeued or resubmitted task logs into its existing run.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

from babelsum.files import file_lock
from babelsum.state import SweepFolder
from babelsum.tracking.journal import StoreSync, SyncState, read_entries
from babelsum.tracking.provenance import (
    checkout,
    git_commit,
    package_versions,
    provenance_tags,
    record_sweep_provenance,
)
from babelsum.tracking.redaction import Redactor
from babelsum.tracking.store import (
    MAX_PARAM_VALUE,
    MAX_PARAMS_OR_TAGS,
    Missing,
    MlflowStore,
    Rejected,
    Unreachable,
    clean_key,
    flatten,
)
from babelsum.tracking.tracker import Tracker
from babelsum.tracking.uri import URI_KEY, shown_uri, tracking_uri, warn_if_unsafe_store

if TYPE_CHECKING:
    from babelsum.config import SweepConfig
    from babelsum.plan import Task

log = logging.getLogger("babelsum.tracking")

PARENT_RUNS_KEY = "mlflow_parent_runs"  # sweep.json: shown store URI -> parent run id


def experiment_name(config: SweepConfig) -> str:
    return config.tracking.experiment or config.study


def config_redactor(config: SweepConfig) -> Redactor:
    """A redactor that also knows the secrets written in the config (e.g. container.env)."""
    redactor = Redactor()
    redactor.learn(config.model_dump(mode="json"))
    return redactor


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
        self.ends_sweep = ends_sweep  # gather: its start and end are the sweep's
        self.state = SyncState(folder.task_dir(key))

    def sync(self, wait_s: float, verify: bool = False) -> int | None:
        """Push what the store lacks; the number of records pushed, or None if another
        process holds the task's sync lock for longer than `wait_s`. `verify` first checks
        that the store still has the task's run (one more request)."""
        with self.state.lock(wait_s) as held:
            if not held:
                return None
            try:
                sync = self.state.load(shown_uri(self.uri))
                if verify and sync.run_id is not None:
                    self.store.call("get_run", sync.run_id)
                return self._push(sync, wait_s)
            except Missing:
                # the store was reset or the run deleted: the journal holds everything
                self.store.forget_experiments()
                log.warning(
                    "the MLflow run of %s is gone from %s; sending its journal again, into a "
                    "new run",
                    self.key,
                    shown_uri(self.uri),
                )
                return self._push(StoreSync(), wait_s)

    def _push(self, sync: StoreSync, wait_s: float) -> int:
        shown = shown_uri(self.uri)
        if sync.run_id is None:
            sync.run_id = self._create_run(wait_s)
            self.state.save(shown, sync)
        rejected_before, pushed_before = len(sync.rejected), sync.pushed
        self.store.push(
            sync.run_id,
            read_entries(self.folder.journal_path(self.key), sync.offset),
            self.folder.task_dir(self.key),
            sync,
            save=lambda: self.state.save(shown, sync),
            on_status=self._sweep_status if self.ends_sweep else None,
            sweep_run=lambda: ensure_parent_run(self.folder, self.config, self.store, self.uri),
        )
        for refused in sync.rejected[rejected_before:]:
            log.warning("MLflow refused a record of %s: %s", self.key, refused["error"])
        return sync.pushed - pushed_before

    def _create_run(self, wait_s: float) -> str:
        parent = ensure_parent_run(
            self.folder, self.config, self.store, self.uri, wait_s, verify=True
        )
        return self.store.create_run(
            experiment_name(self.config), self.key, {"mlflow.parentRunId": parent}
        )

    def _sweep_status(self, status: str, end_ms: int | None) -> None:
        parent = ensure_parent_run(self.folder, self.config, self.store, self.uri)
        if end_ms is None:
            self.store.call("update_run", parent, status=status)
        else:
            self.store.call("set_terminated", parent, status=status, end_time=end_ms)


def ensure_parent_run(
    folder: SweepFolder,
    config: SweepConfig,
    store: MlflowStore,
    uri: str,
    wait_s: float = 60.0,
    verify: bool = False,
) -> str:
    """The sweep's parent run in this store, created (with the resolved config) if missing;
    `verify` also replaces a recorded run that the store no longer has.

    One process creates it while the others wait, at most `wait_s`: a server that hangs must
    not queue every starting task behind it.
    """
    shown = shown_uri(uri)
    with file_lock(folder.root / ".mlflow.lock", wait_s) as held:
        if not held:
            raise Unreachable("another task has been creating the sweep's MLflow run for too long")
        meta = folder.meta()
        runs = meta.get(PARENT_RUNS_KEY, {})
        if shown in runs and not (verify and _gone(store, runs[shown])):
            return runs[shown]
        redactor = config_redactor(config)
        tags = {k: redactor.value(k, v) for k, v in sweep_tags(meta, config).items()}
        run_id = store.create_run(experiment_name(config), meta["id"], tags)
        _log_config(store, run_id, config)
        if meta.get("git_diff") and (folder.root / meta["git_diff"]).is_file():
            store.call("log_artifact", run_id, str(folder.root / meta["git_diff"]))
        # mlflow_parent_run_id names the run in the sweep's first store
        first = meta.get(URI_KEY, shown) == shown or not meta.get("mlflow_parent_run_id")
        main = {"mlflow_parent_run_id": run_id} if first else {}
        folder.update_meta(**{PARENT_RUNS_KEY: runs | {shown: run_id}}, **main)
        return run_id


def _gone(store: MlflowStore, run_id: str) -> bool:
    try:
        store.call("get_run", run_id)
    except Missing:
        return True
    return False


def _log_config(store: MlflowStore, run_id: str, config: SweepConfig) -> None:
    """The resolved config as params and as config.yaml, masked as a mapping first (a short
    password under its name is masked there, where text alone could not tell it)."""
    import yaml
    from mlflow.entities import Param

    redactor = config_redactor(config)
    masked = redactor.mapping(config.model_dump(mode="json"))
    params = [Param(clean_key(k), str(v)[:MAX_PARAM_VALUE]) for k, v in flatten(masked).items()]
    for i in range(0, len(params), MAX_PARAMS_OR_TAGS):
        store.call("log_batch", run_id, params=params[i : i + MAX_PARAMS_OR_TAGS], synchronous=True)
    text = yaml.safe_dump(masked, sort_keys=False, allow_unicode=True)
    store.call("log_text", run_id, redactor.text(text), "config.yaml")


def sweep_tags(meta: dict[str, Any], config: SweepConfig) -> dict[str, str]:
    return {
        "kind": "sweep",
        "sweep_id": str(meta["id"]),
        "study": config.study,
        "config_hash": str(meta.get("config_hash", "")),
        "git_commit": str(
            meta.get("git_commit") or git_commit(checkout(meta.get("config_source")))
        ),
        "container_image": config.container.image if config.container else "none",
        "executor": str(meta.get("executor", "")),
        "version.babelsum": package_versions()["version.babelsum"],
        **provenance_tags(meta),
    }


# ---------------------------------------------------------------------- a sweep's parent run


def start_sweep_run(sweep_dir: Path, config: SweepConfig, parallel_tasks: int = 1) -> str | None:
    """Create the sweep's parent run (at `launch sweep`); None when tracking is off or MLflow
    cannot be used now (the first task, or `launch sync`, creates it later). `parallel_tasks`:
    how many tasks may write at once (a SQLite store on a network filesystem warns)."""
    if not config.tracking.enabled:
        return None
    folder = SweepFolder(sweep_dir)
    uri = tracking_uri(folder.root, config)
    meta = folder.meta()
    folder.update_meta(**{URI_KEY: meta.get(URI_KEY) or shown_uri(uri)})
    record_sweep_provenance(folder, config, config_redactor(config).text)
    warning = warn_if_unsafe_store(uri, parallel_tasks)
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
        "git_commit": meta.get("git_commit") or git_commit(checkout(meta.get("config_source"))),
        "container_image": config.container.image if config.container else "none",
        **provenance_tags(meta),
        **package_versions(),
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
