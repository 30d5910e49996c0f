"""What a task logs: params, tags, metrics and artifacts.

Every call is first appended to the task's journal (`tasks/<key>/journal.jsonl`), so nothing
is lost when the tracking server is down; MLflow is fed from the journal.
(Interface only for now: the MLflow side is built in the tracking issue.)
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any


class Tracker:
    def __init__(self, journal: Path):
        self.journal = journal
        self.journal.parent.mkdir(parents=True, exist_ok=True)

    def _append(self, kind: str, **payload: Any) -> None:
        record = {"kind": kind, "time": time.time(), **payload}
        with open(self.journal, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, default=str, ensure_ascii=False) + "\n")

    def log_params(self, params: dict[str, Any]) -> None:
        self._append("params", params=params)

    def set_tags(self, tags: dict[str, Any]) -> None:
        self._append("tags", tags=tags)

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self._append("metrics", metrics=metrics, step=step)

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        self._append("artifact", path=str(path), artifact_path=artifact_path)

    def flush(self) -> None:
        """Push what is pending to MLflow (no-op without a server)."""

    def close(self, state: str = "FINISHED") -> None:
        self.flush()
