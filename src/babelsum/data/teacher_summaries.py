"""Teacher summaries, merged back into the prepared articles at the split.

Shard i of n wrote one answer per row i, i+n, i+2n, ... of the prepare dataset, in that
order. An answer that failed, or is missing, sends its article to the quarantine with the
teacher's reason; the others get `summary_source` "teacher".
"""

from __future__ import annotations

import json
from pathlib import Path

from babelsum.data.quarantine import Rejected
from babelsum.errors import TeacherOutputError


def merge_teacher_summaries(
    records: list[dict], shard_files: list[Path]
) -> tuple[list[dict], list[Rejected]]:
    """Records with the teacher's summary, and those whose summary failed."""
    shards = len(shard_files)
    answers: dict[int, dict] = {}
    for shard, path in enumerate(shard_files):
        rows = range(shard, len(records), shards)
        lines = path.read_text(encoding="utf-8").splitlines()
        if len(lines) != len(rows):
            raise TeacherOutputError(
                f"{path} has {len(lines)} answers for the {len(rows)} articles of shard {shard}"
            )
        for row, line in zip(rows, lines, strict=True):
            answer = json.loads(line)
            expected = (records[row]["article_id"], records[row]["language"])
            if (answer["article_id"], answer["language"]) != expected:
                raise TeacherOutputError(
                    f"{path}: answer for {answer['article_id']} ({answer['language']}) where "
                    f"row {row} is {expected[0]} ({expected[1]}); rerun the teacher shards"
                )
            answers[row] = answer

    kept, failed = [], []
    for row, record in enumerate(records):
        answer = answers[row]
        if answer["status"] != "ok" or not answer.get("summary"):
            reason = answer.get("reason") or "no summary"
            failed.append(Rejected("teacher_failed", reason, record))
            continue
        kept.append(
            record
            | {
                "summary": answer["summary"],
                "summary_language": answer.get("summary_language") or record["language"],
                "summary_source": "teacher",
            }
        )
    return kept, failed
