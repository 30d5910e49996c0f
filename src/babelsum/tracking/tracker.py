"""What a task logs: params, tags, metrics and artifacts; journaled first, then sent to MLflow.

Every call is first appended to the task's journal (`tasks/<key>/journal.jsonl`), with
secrets masked, so nothing is lost when the tracking server is down. A background thread then
pushes the journal to the task's MLflow run: params, tags and artifacts at once, metrics in
batches (every `batch_records` records or `batch_seconds` seconds). A training step pays for a
line in a file, never for a round trip to a server, which may be slow, overloaded or gone.

An MLflow problem never fails the task: the tracker warns once, keeps journaling, and tries
again a minute later; `launch sync SWEEP_DIR` replays whatever did not arrive.

In MLflow (runs.py): one experiment per study, one parent run per sweep (holding the
resolved config), one child run per task (tag `mlflow.parentRunId`); a requeued or
resubmitted task logs into its existing run.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import threading
import time
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from babelsum.tracking.journal import SWEEP_RUN, Journal
from babelsum.tracking.redaction import Redactor
from babelsum.tracking.store import Unreachable, flatten
from babelsum.tracking.uri import shown_uri

if TYPE_CHECKING:
    from babelsum.tracking.runs import RunSink

log = logging.getLogger("babelsum.tracking")

MAX_REDACTED_TEXT = 50 * 2**20  # larger artifacts are copied as they are


class Pusher:
    """Sends a task's journal to MLflow from a background thread.

    The task asks for a push and goes on; the thread pushes whatever the journal holds by
    then. After a failure it skips pushes for `retry_seconds` (warning once), except the last
    one when the task ends.
    """

    def __init__(self, sink: RunSink, journal: Path, retry_seconds: float):
        self.sink, self.journal, self.retry_seconds = sink, journal, retry_seconds
        self.retry_at = 0.0  # while MLflow is unusable: when to try again
        self._warned = False
        self._changed = threading.Condition()
        self._asked = self._done = 0
        self._force = self._stopped = False
        self._thread = threading.Thread(target=self._serve, name="babelsum-mlflow", daemon=True)
        self._thread.start()

    def ask(self, force: bool = False) -> int:
        """Ask for a push; the ticket to wait for."""
        with self._changed:
            self._asked += 1
            self._force = self._force or force
            self._changed.notify_all()
            return self._asked

    def wait(self, ticket: int, timeout_s: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self._done >= ticket, timeout_s)

    def stop(self) -> None:
        with self._changed:
            self._stopped = True
            self._changed.notify_all()

    def _serve(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._asked > self._done or self._stopped)
                if self._asked <= self._done:
                    return
                target, force, self._force = self._asked, self._force, False
            if force or time.monotonic() >= self.retry_at:
                self._push()
            with self._changed:
                self._done = target
                self._changed.notify_all()

    def _push(self) -> None:
        try:
            pushed = self.sink.sync(wait_s=30.0)
        except Unreachable as exc:
            self._unusable(str(exc))
            return
        except Exception as exc:  # tracking must never fail the task; the journal keeps all
            self._unusable(f"{type(exc).__name__}: {exc}")
            return
        if pushed is not None and self.retry_at:  # None: `launch sync` holds this task now
            log.warning("MLflow at %s is reachable again", shown_uri(self.sink.uri))
            self.retry_at = 0.0

    def _unusable(self, reason: str) -> None:
        self.retry_at = time.monotonic() + self.retry_seconds
        if not self._warned:
            self._warned = True
            log.warning(
                "MLflow at %s cannot be used (%s); logging to %s only, retrying every %.0f s; "
                "`launch sync SWEEP_DIR` sends the rest later",
                shown_uri(self.sink.uri),
                reason,
                self.journal,
                self.retry_seconds,
            )


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
        self.batch_records, self.batch_seconds = batch_records, batch_seconds
        self.retry_seconds = retry_seconds
        self._writer = Journal(journal)
        self._redactor = redactor or Redactor()
        self._pusher: Pusher | None = None
        self._unpushed = 0
        self._last_push = time.monotonic()
        self._warned_metrics: set[str] = set()
        self._tables: set[str] = set()
        self._closed = False
        if sink is not None:
            self.connect(sink)

    # ------------------------------------------------------------------ what stages call

    def masked(self, text: str) -> str:
        """`text` with the secrets this tracker knows masked (for what is kept beside it:
        a failed task's reason and traceback in its status file)."""
        return self._redactor.text(text)

    def log_params(self, params: dict[str, Any]) -> None:
        self._record("params", urgent=True, params=flatten(self._redactor.mapping(params)))

    def set_tags(self, tags: dict[str, Any]) -> None:
        masked = {
            self._redactor.text(str(k)): self._redactor.value(str(k), v) for k, v in tags.items()
        }
        self._record("tags", urgent=True, tags=masked)

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        numbers = {}
        for key, value in metrics.items():
            try:
                numbers[self._redactor.text(str(key))] = float(value)
            except (TypeError, ValueError):
                if key not in self._warned_metrics:
                    self._warned_metrics.add(key)
                    log.warning("metric %r is not a number (%r); it is not logged", key, value)
        if numbers:
            self._record("metrics", urgent=False, metrics=numbers, step=step)

    def log_artifact(
        self, path: str | Path, artifact_path: str | None = None, *, sweep_run: bool = False
    ) -> None:
        """Log a file or folder; a copy (secrets masked) is kept beside the journal, because
        the original may be renamed or deleted before MLflow can take it. `sweep_run`: to
        the sweep's (parent) run instead of the task's (gather's report)."""
        source = Path(path)
        if not source.exists():
            log.warning("log_artifact: %s does not exist; nothing logged", source)
            return
        inner = Path(*[p for p in Path(artifact_path or "").parts if p not in ("..", "/")])
        copies = self.journal.parent / "sweep_artifacts" if sweep_run else self.artifacts_dir
        copy = copies / inner / source.name
        self._copy_redacted(source, copy)
        self._record(
            "artifact",
            urgent=True,
            file=str(copy.relative_to(self.journal.parent)),
            artifact_path=artifact_path,
            **({"run": SWEEP_RUN} if sweep_run else {}),
        )

    def log_table(self, columns: list[str], rows: list[list[Any]], artifact_file: str) -> None:
        """A table the MLflow UI shows and compares across runs (`mlflow.log_table`'s JSON
        layout and its `mlflow.loggedArtifacts` tag). Logged as a plain artifact: a replay
        then replaces the file, where log_table would append the rows a second time."""
        with tempfile.TemporaryDirectory(dir=self.journal.parent) as tmp:
            table = Path(tmp) / PurePosixPath(artifact_file).name
            table.write_text(
                json.dumps({"columns": columns, "data": rows}, ensure_ascii=False, default=str),
                encoding="utf-8",
            )
            folder = str(PurePosixPath(artifact_file).parent)
            self.log_artifact(table, None if folder == "." else folder)
        self._tables.add(artifact_file)
        listed = [{"path": p, "type": "table"} for p in sorted(self._tables)]
        self.set_tags({"mlflow.loggedArtifacts": json.dumps(listed)})

    def register_model(self, name: str, artifact_path: str, tags: dict[str, Any]) -> None:
        """A version of the registered model `name` whose source is this run's artifact
        `artifact_path` (store.py: once per run and `tags["fingerprint"]`)."""
        masked = {str(k): self._redactor.value(str(k), v) for k, v in tags.items()}
        self._record("register", urgent=True, name=name, artifact_path=artifact_path, tags=masked)

    def flush(self, timeout_s: float = 30.0) -> None:
        """Push what is pending now and wait for it, at most `timeout_s` (nothing is pushed
        while MLflow is known to be unreachable)."""
        if self._pusher is not None:
            self._pusher.wait(self._ask(), timeout_s)

    def close(self, state: str = "FINISHED", timeout_s: float = 60.0) -> None:
        """End the run with `state` (FINISHED, FAILED, KILLED): a last push, even while MLflow
        was unreachable, waited for at most `timeout_s`."""
        if self._closed:
            return
        self._closed = True
        self._writer.append("end", state=state)
        if self._pusher is None:
            return
        if not self._pusher.wait(self._ask(force=True), timeout_s):
            log.warning(
                "MLflow took over %.0f s; the rest of %s is sent by `launch sync`",
                timeout_s,
                self.journal,
            )
        self._pusher.stop()

    # ------------------------------------------------------------------ opening a task's run

    def start(self, attempt: int) -> None:
        """Journal the start of an attempt: the run is (re)opened as RUNNING."""
        self._writer.append("start", attempt=attempt)

    def connect(self, sink: RunSink, timeout_s: float = 10.0) -> None:
        """Start pushing to `sink`, beginning with everything journaled so far (waited for
        at most `timeout_s`, so the run shows as running before the stage starts)."""
        self._pusher = Pusher(sink, self.journal, self.retry_seconds)
        self.flush(timeout_s)

    # ------------------------------------------------------------------ internals

    def _record(self, kind: str, urgent: bool, **payload: Any) -> None:
        self._writer.append(kind, **payload)
        self._unpushed += 1
        if self._pusher is None or time.monotonic() < self._pusher.retry_at:
            return
        due = self._unpushed >= self.batch_records
        if urgent or due or time.monotonic() - self._last_push >= self.batch_seconds:
            self._ask()

    def _ask(self, force: bool = False) -> int:
        self._unpushed, self._last_push = 0, time.monotonic()
        return self._pusher.ask(force)

    def _copy_redacted(self, source: Path, copy: Path) -> None:
        if source.is_dir():
            for file in sorted(p for p in source.rglob("*") if p.is_file()):
                self._copy_redacted(file, copy / file.relative_to(source))
            return
        copy.parent.mkdir(parents=True, exist_ok=True)
        # any file that reads as text is masked, whatever its name (a log, a .py, a .cfg)
        if source.stat().st_size <= MAX_REDACTED_TEXT:
            data = source.read_bytes()
            try:
                text = None if b"\0" in data else data.decode("utf-8")
            except UnicodeDecodeError:
                text = None
            if text is not None:
                copy.write_text(self._redactor.text(text), encoding="utf-8")
                return
        shutil.copyfile(source, copy)
