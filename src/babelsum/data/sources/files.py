"""Local JSONL, Parquet or CSV files with a column mapping.

Files are read with undecodable bytes kept as surrogates, so that one bad record is
quarantined as invalid_utf8 by cleaning instead of failing the whole file. Rows without an
article id get `<file stem>-<row>`: each is then its own topic.
"""

from __future__ import annotations

import csv
import glob
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from babelsum.config import FilesSource
from babelsum.data.quarantine import Rejected
from babelsum.data.schema import canonical
from babelsum.data.sources.columns import apply_columns, resolve_columns
from babelsum.errors import SourceError

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".csv": "csv"}


def read_files(config: FilesSource) -> Iterator[dict | Rejected]:
    for path in _expand(config.paths):
        fmt = config.format or FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise SourceError(
                f"data.files: cannot tell the format of {path} from its suffix; "
                f"set data.files.format to one of jsonl, parquet, csv"
            )
        yield from _read_file(path, fmt, config)


def _expand(patterns: list[str]) -> list[Path]:
    paths: list[Path] = []
    for pattern in patterns:
        if glob.has_magic(pattern):
            matches = sorted(Path(p) for p in glob.glob(pattern, recursive=True))
            if not matches:
                raise SourceError(f"data.files.paths: no file matches {pattern}")
            paths.extend(matches)
        elif Path(pattern).is_file():
            paths.append(Path(pattern))
        else:
            raise SourceError(f"data.files.paths: no such file {Path(pattern).absolute()}")
    return paths


def _read_file(path: Path, fmt: str, config: FilesSource) -> Iterator[dict | Rejected]:
    rows = {"jsonl": _jsonl_rows, "parquet": _parquet_rows, "csv": _csv_rows}[fmt](path)
    columns: dict[str, str] | None = None
    for number, row in enumerate(rows, start=1):
        if isinstance(row, Rejected):
            yield row
            continue
        if columns is None:  # from the first row: JSONL has no header
            columns = resolve_columns(config.columns, list(row), f"data.files {path}")
            if "language" not in columns and config.language is None:
                raise SourceError(
                    f"data.files {path}: no language column; map one in "
                    "data.files.columns.language or set data.files.language"
                )
        record = apply_columns(row, columns)
        record["language"] = record.get("language") or config.language
        record["article_id"] = record.get("article_id") or f"{path.stem}-{number}"
        yield canonical(record, "files")


def _jsonl_rows(path: Path) -> Iterator[dict | Rejected]:
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                yield Rejected("malformed_json", f"{where}: {exc.msg}", {"line": line[:500]})
                continue
            if not isinstance(row, dict):
                yield Rejected(
                    "malformed_json", f"{where}: not a JSON object", {"line": line[:500]}
                )
                continue
            yield row


def _csv_rows(path: Path) -> Iterator[dict]:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # article texts exceed the 128 KiB default
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as f:
        yield from csv.DictReader(f)


def _parquet_rows(path: Path) -> Iterator[dict]:
    import pyarrow.parquet as pq

    for batch in pq.ParquetFile(path).iter_batches(batch_size=1024):
        yield from batch.to_pylist()
