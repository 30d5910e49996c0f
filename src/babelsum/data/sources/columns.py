"""Column mappings: which column of a file or dataset holds which canonical field."""

from __future__ import annotations

from babelsum.data.schema import FIELDS


def resolve_columns(mapping: dict[str, str], available: list[str], where: str) -> dict[str, str]:
    """canonical field -> column: the mapping given, plus columns already named like a field.

    Raises SourceError naming `where` when a mapped column is not there. (The config has
    already checked that the mapped fields are canonical ones.)
    """
    from babelsum.errors import SourceError

    missing = [column for column in mapping.values() if column not in available]
    if missing:
        raise SourceError(
            f"{where}: no column {', '.join(map(repr, missing))}; "
            f"columns there: {', '.join(available)}"
        )
    resolved = {name: name for name in FIELDS if name in available}
    resolved.update(mapping)
    return resolved


def apply_columns(row: dict, columns: dict[str, str]) -> dict:
    return {name: row.get(column) for name, column in columns.items()}
