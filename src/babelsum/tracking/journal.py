"""A task's tracking journal: every logged call as one JSON line, and how far MLflow has it.

The journal (`tasks/<key>/journal.jsonl`) is append-only and written before anything is sent
to MLflow, so a tracking server that is down loses nothing. Each record carries a stable id
(`<writer>.<n>`: one writer per process, n counts its records).

What reached MLflow is kept beside it in `mlflow_sync.json`, per tracking store: the run id
and the byte offset up to which every record was pushed (plus the records MLflow refused, with
its reason). `launch sync` and the task's own tracker both push from that offset, one at a
time under a file lock, so nothing is sent twice.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from babelsum.errors import TrackingError
from babelsum.files import append_jsonl, file_lock, write_json

SYNC_FILE = "mlflow_sync.json"
LOCK_FILE = ".mlflow.lock"


class Journal:
    """Appends records to one journal file."""

    def __init__(self, path: Path):
        self.path = path
        self.writer = uuid.uuid4().hex[:8]
        self.count = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._close_torn_line()

    def _close_torn_line(self) -> None:
        # A process killed mid-write leaves a line without its newline; ending it keeps the
        # torn line apart from our first record (it is then reported as unreadable).
        try:
            with open(self.path, "rb") as f:
                f.seek(-1, 2)
                torn = f.read(1) != b"\n"
        except OSError:  # no journal yet, or an empty one
            return
        if torn:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write("\n")

    def append(self, kind: str, **payload: Any) -> dict[str, Any]:
        record = {
            "id": f"{self.writer}.{self.count}",
            "kind": kind,
            "time": time.time(),
            **payload,
        }
        append_jsonl(self.path, [record])
        self.count += 1
        return record


@dataclass
class Entry:
    """One journal line: its record (None when the line is not a valid record: `problem`
    says why) and where it ends."""

    record: dict[str, Any] | None
    end: int  # byte offset just after this line
    line: str = ""
    problem: str = ""


KINDS = ("params", "tags", "metrics", "artifact", "start", "end", "register")
END_STATES = ("FINISHED", "FAILED", "KILLED")
SWEEP_RUN = "sweep"  # an artifact record's "run": for the sweep's run, not the task's


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def record_problem(record: Any) -> str | None:
    """Why a parsed journal line is not a record the store can replay, or None. Journals are
    files anyone may edit or damage: a line of the wrong shape is rejected, never replayed
    half, and never stops the lines after it."""
    if not isinstance(record, dict):
        return f"a JSON {type(record).__name__}, not a record"
    kind = record.get("kind")
    if kind not in KINDS:
        return f"unknown kind {kind!r}"
    if not isinstance(record.get("id"), str):
        return "no string id"
    if not _number(record.get("time")):
        return "no numeric time"
    if not 0 <= record["time"] < 1e11:  # NaN, Infinity, 1e300: no date MLflow can store
        return "a time that is not a date"
    if kind in ("params", "tags", "metrics") and not isinstance(record.get(kind), dict):
        return f"{kind!r} is not a mapping"
    if kind == "metrics":
        if not all(_number(v) for v in record["metrics"].values()):
            return "a metric that is not a number"
        if record.get("step") is not None and not (
            isinstance(record["step"], int) and not isinstance(record["step"], bool)
        ):
            return "a step that is not an integer"
        if record.get("step") is not None and not -(2**63) <= record["step"] < 2**63:
            return "a step beyond MLflow's 64-bit integers"
    if kind == "artifact":
        file = record.get("file")
        if not isinstance(file, str) or not file or file.startswith("/"):
            return "an artifact file that is not a relative path"
        if ".." in Path(file).parts:
            return "an artifact file outside the task folder"
        if not isinstance(record.get("artifact_path"), str | type(None)):
            return "an artifact_path that is not text"
        if record.get("run") not in (None, SWEEP_RUN):
            return f"an artifact run that is not {SWEEP_RUN!r}"
    if kind == "register":  # a model version in the registry (store.py)
        if not re.fullmatch(r"[\w.\-]{1,200}", str(record.get("name"))):
            return "a registered model name that is not letters, digits, _ . -"
        if not isinstance(record.get("artifact_path"), str) or ".." in record["artifact_path"]:
            return "a register record without its artifact_path"
        if not isinstance(record.get("tags", {}), dict):
            return "register tags that are not a mapping"
    if kind == "end" and record.get("state") not in END_STATES:
        return f"an end state that is not one of {', '.join(END_STATES)}"
    return None


def read_entries(path: Path, offset: int = 0) -> list[Entry]:
    """Complete lines from `offset` on; a last line without its newline is still being written."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return []
    entries = []
    position = offset
    for raw in data.split(b"\n")[:-1]:
        position += len(raw) + 1
        if not raw.strip():
            continue
        text = raw.decode("utf-8", errors="replace")
        try:
            record = json.loads(text)
        except (ValueError, RecursionError):  # not JSON (a torn line), too deep, too large
            entries.append(Entry(None, position, text[:200], "not JSON"))
            continue
        problem = record_problem(record)
        if problem is not None:
            entries.append(Entry(None, position, text[:200], problem))
        else:
            entries.append(Entry(record, position))
    return entries


@dataclass
class StoreSync:
    """How far one tracking store has this task's journal."""

    run_id: str | None = None
    offset: int = 0
    pushed: int = 0  # records pushed so far
    rejected: list[dict[str, str]] = field(default_factory=list)  # {"id", "error"}


class SyncState:
    """`mlflow_sync.json` of a task: one StoreSync per tracking URI."""

    def __init__(self, task_dir: Path):
        self.path = task_dir / SYNC_FILE
        self.lock_path = task_dir / LOCK_FILE

    def load(self, uri: str) -> StoreSync:
        stores = self._stores()
        if uri not in stores:
            return StoreSync()
        try:
            return StoreSync(**stores[uri])
        except TypeError:
            raise TrackingError(f"{self.path}: damaged (fields of {uri}); move it aside") from None

    def save(self, uri: str, sync: StoreSync) -> None:
        stores = self._stores()
        stores[uri] = asdict(sync)
        write_json(self.path, {"stores": stores}, durable=False)

    def _stores(self) -> dict[str, dict[str, Any]]:
        try:
            stores = json.loads(self.path.read_text(encoding="utf-8")).get("stores", {})
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, AttributeError) as exc:
            raise TrackingError(
                f"{self.path}: damaged ({type(exc).__name__}); move it aside and run "
                "`launch sync` again (the task's journal is then sent again, into a new run)"
            ) from None
        if not isinstance(stores, dict) or not all(isinstance(v, dict) for v in stores.values()):
            raise TrackingError(f"{self.path}: damaged (no mapping of stores); move it aside")
        return stores

    def lock(self, timeout_s: float) -> contextlib.AbstractContextManager[bool]:
        return file_lock(self.lock_path, timeout_s)
