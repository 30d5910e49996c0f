"""How babelsum writes files that other processes read: atomically, in JSON lines, under a lock.

Sweep folders live on shared filesystems and are written by many processes (tasks, `launch`,
the tracking pusher), some of them killed mid-write. So:
- a file is replaced whole (`write_atomic`): readers never see half of it;
- an append-only record (`RowJournal`, the tracking journal) survives a torn last line;
- one writer at a time where it matters (`file_lock`).
No babelsum imports: every layer may use this.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


def write_atomic(path: Path, text: str, durable: bool = True) -> None:
    """Write via a temporary file and rename, so readers never see half a file.

    The temporary name is unique per writer (process, thread and a random part: threads of
    the local backend share a pid). durable=True fsyncs the file before the rename and the
    folder after it, so a node crash cannot leave a new name without its data; bulk
    bookkeeping (10,000 pending statuses at submission) skips it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(
        f".{path.name}.{os.getpid()}-{threading.get_ident()}-{uuid.uuid4().hex[:6]}.tmp"
    )
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_folder(path.parent)


def fsync_folder(folder: Path) -> None:
    """Make a rename inside `folder` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def sync_tree(root: Path) -> None:
    """fsync every file and folder under `root` (a finished output, before it is renamed into
    place: after a crash the new name must not point at files whose data never reached disk)."""
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            if os.path.islink(path):
                continue
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_folder(Path(folder))


def write_json(path: Path, data: Any, durable: bool = True) -> None:
    write_atomic(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", durable)


@contextlib.contextmanager
def file_lock(path: Path, timeout_s: float | None = None) -> Iterator[bool]:
    """Hold an exclusive lock on `path` (created if missing).

    timeout_s None waits as long as it takes; otherwise the lock is tried until `timeout_s`
    has passed (0: once), and the context yields False when someone else still holds it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        if timeout_s is None:
            fcntl.flock(f, fcntl.LOCK_EX)
        else:
            deadline = time.monotonic() + timeout_s
            while True:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        yield False
                        return
                    time.sleep(0.05)
        try:
            yield True
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# ---------------------------------------------------------------- JSON lines


def write_jsonl(path: Path, records: Iterable[dict]) -> None:
    """A whole JSONL file (outputs written once, inside a task's temporary output folder)."""
    with open(path, "w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def append_jsonl(path: Path, records: Iterable[dict], durable: bool = False) -> None:
    """Append records in one write; durable=True fsyncs them before returning."""
    lines = "".join(json.dumps(r, default=str, ensure_ascii=False) + "\n" for r in records)
    if not lines:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(lines)
        if durable:
            f.flush()
            os.fsync(f.fileno())


class RowJournal:
    """The finished rows of a resumable task (teacher shard, evaluation cell), by row number.

    A task killed mid-way (time limit, preemption, out of memory) resumes from it: the rows
    already written are skipped. Records are fsynced chunk by chunk; a line torn by a kill is
    cut off on the next read.
    """

    def __init__(self, path: Path):
        self.path = path

    def read(self) -> dict[int, dict]:
        if not self.path.is_file():
            return {}
        data = self.path.read_bytes()
        complete = data[: data.rfind(b"\n") + 1]
        if len(complete) < len(data):
            with open(self.path, "r+b") as f:
                f.truncate(len(complete))
        records = (json.loads(line) for line in complete.decode("utf-8").splitlines() if line)
        return {record["row"]: record for record in records}

    def append(self, records: list[dict]) -> None:
        append_jsonl(self.path, records, durable=True)
