"""One MLflow tracking store (a server, or a SQLite file) as babelsum writes to it.

It turns journal records into MLflow calls: params, tags and metrics go in `log_batch` calls
within MLflow's per-request limits; artifacts, run starts and ends one by one, in journal order.
Errors are sorted in two kinds:
- `Unreachable`: the store cannot be used now (server down, timeout, auth, locked database);
  nothing is marked pushed and the records are sent again later;
- `Rejected`: the store refused a record (a param changing value, a bad name); the record is
  set aside with the reason, so one bad record never blocks the ones after it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from babelsum.tracking.journal import SWEEP_RUN, Entry, StoreSync

MAX_METRICS = 1000  # mlflow.utils.validation's log_batch limits
MAX_PARAMS_OR_TAGS = 100
MAX_ENTITIES = 1000
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
MAX_KEY = 250

# Error codes that mean "this request is wrong", as opposed to "the store is not usable now".
REJECTED_CODES = {
    "INVALID_PARAMETER_VALUE",
    "BAD_REQUEST",
    "MALFORMED_REQUEST",
    "INVALID_STATE",
    "RESOURCE_ALREADY_EXISTS",
}


class Unreachable(Exception):
    """The tracking store cannot be used right now; try again later."""


class Rejected(Exception):
    """The tracking store refused this request."""


class Missing(Unreachable):
    """The run (or experiment) named in the request does not exist in this store."""


def set_client_defaults() -> None:
    """Client settings for this process; values set by the user are kept.

    Fail fast when the server is down: MLflow's default retries last about four minutes per
    call, and a task's end waits for its last push. And no "View run at" line on stdout for
    every run that ends: the task's log and `launch sync` would drown in them.
    """
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")


def sqlite_path(uri: str) -> Path | None:
    """The database file of a `sqlite:///...` URI (four slashes: absolute), else None."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(unquote(uri.removeprefix("sqlite:///").split("?")[0]))


def clean_key(key: str) -> str:
    """A name MLflow accepts for a param, tag or metric (same text, odd characters as `_`)."""
    key = re.sub(r"[^\w./\- :]", "_", str(key)).strip("/ ") or "_"
    key = re.sub(r"/{2,}", "/", key).replace("..", "__")
    return key[:MAX_KEY]


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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


def _reason(exc: BaseException) -> str:
    """Why the store cannot be used, short: MLflow's own message for a refused connection is
    three nested exception reprs."""
    text = _first_line(exc)
    if "NewConnectionError" in text or "Connection refused" in text:
        return "connection refused"
    if "timed out" in text or "timeout" in text.lower():
        return "no answer in time"
    return text


@dataclass
class _Pending:
    """Entities waiting for one log_batch call, each with the id of the record it came from."""

    metrics: list[tuple[str, Any]] = field(default_factory=list)
    params: dict[str, tuple[str, Any]] = field(default_factory=dict)
    tags: dict[str, tuple[str, Any]] = field(default_factory=dict)
    records: int = 0  # records whose entities are all in this batch (or in earlier ones)
    end: int | None = None  # journal offset after the last such record

    def size(self) -> int:
        return len(self.metrics) + len(self.params) + len(self.tags)

    def full_for(self, kind: str, entity: Any) -> bool:
        if self.size() >= MAX_ENTITIES:
            return True
        if kind == "metrics":
            return len(self.metrics) >= MAX_METRICS
        if kind == "params":
            same = self.params.get(entity.key)
            # one batch may not hold a key twice; a changed value goes alone, to be refused alone
            return len(self.params) >= MAX_PARAMS_OR_TAGS or (
                same is not None and same[1].value != entity.value
            )
        return len(self.tags) >= MAX_PARAMS_OR_TAGS and entity.key not in self.tags

    def add(self, kind: str, record_id: str, entity: Any) -> None:
        if kind == "metrics":
            self.metrics.append((record_id, entity))
        elif kind == "params":
            self.params[entity.key] = (record_id, entity)
        else:
            self.tags[entity.key] = (record_id, entity)

    def entities(self) -> list[tuple[str, str, Any]]:
        return (
            [("metrics", i, e) for i, e in self.metrics]
            + [("params", i, e) for i, e in self.params.values()]
            + [("tags", i, e) for i, e in self.tags.values()]
        )


def record_entities(record: dict[str, Any]) -> list[tuple[str, Any]]:
    """MLflow entities of a params, tags or metrics record."""
    from mlflow.entities import Metric, Param, RunTag

    kind = record["kind"]
    if kind == "params":
        return [
            ("params", Param(clean_key(k), str(v)[:MAX_PARAM_VALUE]))
            for k, v in record.get("params", {}).items()
        ]
    if kind == "tags":
        return [
            ("tags", RunTag(clean_key(k), str(v)[:MAX_TAG_VALUE]))
            for k, v in record.get("tags", {}).items()
        ]
    timestamp = int(float(record["time"]) * 1000)
    step = int(record.get("step") or 0)
    return [
        ("metrics", Metric(clean_key(k), float(v), timestamp, step))
        for k, v in record.get("metrics", {}).items()
    ]


class MlflowStore:
    """The MLflow side of tracking, for one tracking URI."""

    def __init__(self, uri: str):
        set_client_defaults()
        self.uri = uri
        self._client = None
        self._experiments: dict[str, str] = {}

    @property
    def client(self):
        if self._client is None:
            from mlflow import MlflowClient

            self._client = MlflowClient(tracking_uri=self.uri)
        return self._client

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call an MlflowClient method; sort its errors into Unreachable and Rejected."""
        from mlflow.exceptions import MlflowException

        try:
            return getattr(self.client, name)(*args, **kwargs)
        except MlflowException as exc:
            if exc.error_code in REJECTED_CODES:
                raise Rejected(_first_line(exc)) from None
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                raise Missing(_first_line(exc)) from None
            raise Unreachable(_reason(exc)) from None
        except Exception as exc:  # connection, database and file errors all mean "not now"
            raise Unreachable(f"{type(exc).__name__}: {_reason(exc)}") from None

    # ------------------------------------------------------------------ runs

    def experiment_id(self, name: str) -> str:
        if name in self._experiments:
            return self._experiments[name]
        experiment = self.call("get_experiment_by_name", name)
        if experiment is None:
            try:
                experiment_id = self.call("create_experiment", name, self._artifact_root())
            except Rejected:  # another task created it just now
                experiment = self.call("get_experiment_by_name", name)
                if experiment is None:
                    raise
                experiment_id = experiment.experiment_id
        else:
            if experiment.lifecycle_stage != "active":
                raise Unreachable(
                    f"experiment {name!r} is deleted in MLflow; restore it "
                    f"(`mlflow experiments restore --experiment-id {experiment.experiment_id}`) "
                    "or set tracking.experiment to another name"
                )
            experiment_id = experiment.experiment_id
        self._experiments[name] = experiment_id
        return experiment_id

    def forget_experiments(self) -> None:
        """Look experiments up again (after the store was reset)."""
        self._experiments.clear()

    def _artifact_root(self) -> str | None:
        # Without a server, MLflow would put artifacts in ./mlruns of whatever folder the task
        # runs in; keep them beside the database instead. A server chooses its own.
        db = sqlite_path(self.uri)
        return (db.parent / "mlartifacts").as_uri() if db else None

    def create_run(self, experiment: str, name: str, tags: dict[str, str]) -> str:
        run = self.call("create_run", self.experiment_id(experiment), run_name=name, tags=tags)
        return run.info.run_id

    # ------------------------------------------------------------------ pushing records

    def push(
        self,
        run_id: str,
        entries: list[Entry],
        files_root: Path,
        sync: StoreSync,
        save: Callable[[], None],
        on_status: Callable[[str, int | None], None] | None = None,
        sweep_run: Callable[[], str] | None = None,
    ) -> None:
        """Send `entries` in order, advancing `sync.offset` (and calling `save`) as they land.

        `on_status(status, end_ms)` hears of the run's starts (end_ms None) and ends;
        `sweep_run()` is the sweep's run, where artifacts marked `"run": "sweep"` go."""
        pending = _Pending()
        for entry in entries:
            record = entry.record
            kind = record.get("kind") if record else None
            if kind in ("params", "tags", "metrics"):
                for entity_kind, entity in self._entities(record, sync):
                    if pending.full_for(entity_kind, entity):
                        self._send(run_id, pending, sync, save)
                        pending = _Pending()
                    pending.add(entity_kind, record["id"], entity)
                pending.records += 1
                pending.end = entry.end
                continue
            self._send(run_id, pending, sync, save)
            pending = _Pending()
            try:
                self._apply(run_id, entry, files_root, on_status, sweep_run)
            except Rejected as exc:
                sync.rejected.append({"id": _entry_id(entry), "error": str(exc)})
            sync.offset, sync.pushed = entry.end, sync.pushed + 1
            save()
        self._send(run_id, pending, sync, save)

    def _entities(self, record: dict[str, Any], sync: StoreSync) -> list[tuple[str, Any]]:
        try:
            return record_entities(record)
        except (TypeError, ValueError, KeyError) as exc:  # e.g. a metric that is not a number
            sync.rejected.append({"id": record.get("id", "?"), "error": _first_line(exc)})
            return []

    def _send(self, run_id: str, pending: _Pending, sync: StoreSync, save) -> None:
        if pending.size():
            grouped = {"metrics": [], "params": [], "tags": []}
            for kind, _, entity in pending.entities():
                grouped[kind].append(entity)
            try:
                self.call("log_batch", run_id, **grouped, synchronous=True)
            except Rejected:
                self._send_one_by_one(run_id, pending, sync)
        if pending.end is not None:
            sync.offset, sync.pushed = pending.end, sync.pushed + pending.records
            save()

    def _send_one_by_one(self, run_id: str, pending: _Pending, sync: StoreSync) -> None:
        """A refused batch: find the entities refused, send the others."""
        for kind, record_id, entity in pending.entities():
            try:
                self.call("log_batch", run_id, **{kind: [entity]}, synchronous=True)
            except Rejected as exc:
                sync.rejected.append({"id": record_id, "key": entity.key, "error": str(exc)})

    def _apply(
        self,
        run_id: str,
        entry: Entry,
        files_root: Path,
        on_status: Callable[[str, int | None], None] | None,
        sweep_run: Callable[[], str] | None = None,
    ) -> None:
        record = entry.record
        if record is None:
            raise Rejected(f"journal line rejected ({entry.problem}): {entry.line!r}")
        kind = record["kind"]
        if kind == "start":
            self.call("update_run", run_id, status="RUNNING")
            if on_status is not None:
                on_status("RUNNING", None)
        elif kind == "end":
            end_ms = int(float(record["time"]) * 1000)
            self.call("set_terminated", run_id, status=record["state"], end_time=end_ms)
            if on_status is not None:
                on_status(record["state"], end_ms)
        elif kind == "artifact":
            path = files_root / record["file"]
            if not path.exists():
                raise Rejected(f"artifact {path} is gone from the task folder")
            if record.get("run") == SWEEP_RUN:
                if sweep_run is None:
                    raise Rejected("an artifact for the sweep's run, which is not known here")
                run_id = sweep_run()
            self.call("log_artifact", run_id, str(path), record.get("artifact_path"))
        elif kind == "register":
            self._register(run_id, record)
        else:
            raise Rejected(f"unknown record kind {kind!r}")

    def _register(self, run_id: str, record: dict[str, Any]) -> None:
        """A version of the registered model `name` whose source is the run's artifact
        `artifact_path` (a small folder that names where the weights are, not the weights);
        one version per run and `fingerprint` tag, however often the record is replayed."""
        name, tags = record["name"], {k: str(v) for k, v in record.get("tags", {}).items()}
        try:
            self.call("create_registered_model", name)
        except Rejected:  # it exists already
            pass
        versions = self.call("search_model_versions", f"name = '{name}' and run_id = '{run_id}'")
        if any(v.tags.get("fingerprint") == tags.get("fingerprint") for v in versions):
            return
        source = f"runs:/{run_id}/{record['artifact_path']}"
        self.call(
            "create_model_version", name, source, run_id=run_id, tags=tags, await_creation_for=0
        )


def _entry_id(entry: Entry) -> str:
    return entry.record.get("id", "?") if entry.record else f"line ending at byte {entry.end}"
