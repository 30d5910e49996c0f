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
from babelsum.data.schema import FIELDS, canonical
from babelsum.data.sources.columns import apply_columns, resolve_columns
from babelsum.errors import SourceError

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".csv": "csv"}


def read_files(config: FilesSource) -> Iterator[dict | Rejected]:
    for path in expand_paths(config.paths):
        fmt = config.format or FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise SourceError(
                f"data.files: cannot tell the format of {path} from its suffix; "
                f"set data.files.format to one of jsonl, parquet, csv"
            )
        try:
            yield from _read_file(path, fmt, config)
        except OSError as exc:  # no permission, a disk error
            raise SourceError(f"data.files: cannot read {path} ({exc.strerror})") from None


def expand_paths(patterns: list[str]) -> list[Path]:
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
    checked = False
    for number, row in enumerate(rows, start=1):
        if isinstance(row, Rejected):
            yield row
            continue
        if not checked:  # the mapping against the first row (a header, or JSONL's first line)
            columns = resolve_columns(config.columns, list(row), f"data.files {path}")
            if "language" not in columns and config.language is None:
                raise SourceError(
                    f"data.files {path}: no language column; map one in "
                    "data.files.columns.language or set data.files.language"
                )
            checked = True
        # each row's own fields: a JSONL record may hold a field the first one lacked
        columns = {name: name for name in FIELDS if name in row} | config.columns
        record = apply_columns(row, columns)
        record["language"] = record.get("language") or config.language
        record["article_id"] = record.get("article_id") or f"{path.stem}-{number}"
        yield canonical(record, "files")


def _jsonl_rows(path: Path) -> Iterator[dict | Rejected]:
    # utf-8-sig: a byte order mark (files saved on Windows) is not part of the first record
    with open(path, encoding="utf-8-sig", errors="surrogateescape") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                yield Rejected("malformed_json", f"{where}: {exc.msg}", {"line": line[:500]})
                continue
            except (ValueError, RecursionError) as exc:  # a 5000-digit number, [[[[...
                deep = isinstance(exc, RecursionError)
                problem = "nested too deeply to read" if deep else "a number too long to read"
                yield Rejected("malformed_json", f"{where}: {problem}", {"line": line[:500]})
                continue
            if not isinstance(row, dict):
                yield Rejected(
                    "malformed_json", f"{where}: not a JSON object", {"line": line[:500]}
                )
                continue
            yield row


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


def _csv_rows(path: Path) -> Iterator[dict | Rejected]:
    """Read strictly: a quote never closed is an error naming its line (not the rest of the
    file merged into one field); a row with more or fewer fields than the header (an
    unquoted comma in a text) is quarantined, not cut or padded."""
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # article texts exceed the 128 KiB default
    with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as f:
        reader = csv.reader(f, strict=True)
        line = 1  # where the row being read starts
        try:
            header = next(reader, None)
            repeated = sorted({c for c in header or [] if header.count(c) > 1})
            if repeated:
                raise SourceError(
                    f"{path}:1: column {', '.join(map(repr, repeated))} appears twice in the header"
                )
            line = reader.line_num + 1
            for fields in reader:
                if fields and len(fields) != len(header):
                    detail = f"{path}:{line}: {len(fields)} fields, the header has {len(header)}"
                    yield Rejected("malformed_csv", detail, {"line": ",".join(fields)[:500]})
                elif fields:
                    yield dict(zip(header, fields, strict=True))
                line = reader.line_num + 1
        except csv.Error as exc:
            raise SourceError(
                f"{path}:{line}: not valid CSV ({exc}): is a quote opened there never closed? "
                "Quote fields that hold quotes, commas or line breaks, doubling inner quotes"
            ) from None


def _parquet_rows(path: Path) -> Iterator[dict]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        batches = pq.ParquetFile(path).iter_batches(batch_size=1024)
        for batch in batches:
            yield from batch.to_pylist()
    except (pa.ArrowException, OSError) as exc:
        raise SourceError(
            f"{path}: not a readable Parquet file ({_first_line(exc)}); "
            "set data.files.format if it is JSONL or CSV"
        ) from None
