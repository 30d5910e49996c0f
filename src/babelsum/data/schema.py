"""The canonical article record every source produces and every later stage reads.

One record is one article in one language. `article_id` is the topic: the versions of one
article in several languages share it, which is what topic-aware splits rely on.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from babelsum.config.schema import ARTICLE_FIELDS as FIELDS

if TYPE_CHECKING:
    import datasets

REQUIRED = ("article_id", "language", "text")


def features() -> datasets.Features:
    import datasets

    return datasets.Features({name: datasets.Value("string") for name in FIELDS})


def to_dataset(records: list[dict]) -> datasets.Dataset:
    """Records (canonical fields only, in FIELDS order) as an Arrow dataset, empty or not."""
    import datasets

    columns = {name: [r.get(name) for r in records] for name in FIELDS}
    return datasets.Dataset.from_dict(columns, features=features())


def save_records(records: list[dict], folder: Path) -> None:
    """Write records as a dataset with `save_to_disk`, without progress bars in the task log."""
    import datasets

    was_disabled = datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()
    try:
        to_dataset(records).save_to_disk(str(folder))
    finally:
        if not was_disabled:
            datasets.enable_progress_bars()


def canonical(record: dict, source: str) -> dict:
    """A source's record with every canonical field present and the obvious defaults filled."""
    out = {name: record.get(name) for name in FIELDS}
    out["source"] = out["source"] or source
    if out["summary"] is not None:
        out["summary_language"] = out["summary_language"] or out["language"]
        out["summary_source"] = out["summary_source"] or "gold"
    # a numeric id (Parquet int64) is an id; any other value that is not text stays as it
    # is, for cleaning to quarantine as wrong_type (str() of a list would pass for text)
    article_id = out["article_id"]
    if isinstance(article_id, int) and not isinstance(article_id, bool):
        out["article_id"] = str(article_id)
    return out
