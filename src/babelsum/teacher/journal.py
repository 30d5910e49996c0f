"""The append-only record of a teacher shard's finished articles, kept in the task's work folder.

A shard killed mid-way (time limit, preemption, out of memory) resumes from it: the articles
already written are skipped. Each record is one JSON line, flushed and fsynced as a chunk
completes; a line torn by a kill is cut off on the next start.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


class ShardJournal:
    def __init__(self, path: Path):
        self.path = path

    def read(self) -> dict[int, dict]:
        """Finished records by row position; a trailing torn line is removed from the file."""
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
        if not records:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(lines)
            f.flush()
            os.fsync(f.fileno())
