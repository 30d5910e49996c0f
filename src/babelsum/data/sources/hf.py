"""Hugging Face datasets, by Hub id or local path, with ready mappings for SLDS, XSum, XL-Sum.

Offline, a Hub dataset loads from the snapshot that `launch prefetch` put in the Hub cache
(`datasets` itself only finds datasets it prepared); a dataset that is neither cached nor
reachable fails the stage with one line naming it. A folder written by `save_to_disk` is read
with `load_from_disk`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from babelsum.config import HFSource
from babelsum.data.schema import canonical
from babelsum.data.sources.columns import apply_columns, resolve_columns
from babelsum.errors import SourceError


@dataclass(frozen=True)
class Preset:
    columns: dict[str, str]
    language: str | None = None  # when the dataset has no language column
    config_languages: dict[str, str] = field(default_factory=dict)  # config name -> language


PRESETS = {
    # ipst/slds: Swiss Federal Supreme Court decisions (de, fr, it) with headnotes in de, fr,
    # it; configs `<decision>_<headnote>` such as fr_de. The same decision_id appears in every
    # headnote language, so it is the topic.
    "slds": Preset(
        columns={
            "article_id": "decision_id",
            "text": "decision",
            "summary": "headnote",
            "language": "decision_language",
            "summary_language": "headnote_language",
            "url": "url",
        }
    ),
    # EdinburghNLP/xsum: BBC articles with a one-sentence summary, English only.
    "xsum": Preset(
        columns={"article_id": "id", "text": "document", "summary": "summary"}, language="en"
    ),
    # csebuetnlp/xlsum: BBC articles in 44 languages, one config per language.
    "xlsum": Preset(
        columns={
            "article_id": "id",
            "title": "title",
            "text": "text",
            "summary": "summary",
            "url": "url",
        },
        config_languages={
            "english": "en",
            "french": "fr",
            "japanese": "ja",
            "spanish": "es",
            "portuguese": "pt",
            "russian": "ru",
            "chinese_simplified": "zh",
        },
    ),
}


def read_hf(config: HFSource) -> Iterator[dict]:
    preset = PRESETS[config.preset] if config.preset else Preset(columns={})
    language = (
        config.language or preset.language or preset.config_languages.get(config.config_name or "")
    )
    for split in config.splits:
        dataset = _load(config, split)
        where = f"data.hf {config.name} ({split})"
        columns = resolve_columns(
            {**preset.columns, **config.columns}, list(dataset.column_names), where
        )
        if "language" not in columns and language is None:
            raise SourceError(
                f"{where}: no language column; set data.hf.language or map data.hf.columns.language"
            )
        if config.limit is not None:
            dataset = dataset.select(range(min(config.limit, len(dataset))))
        dataset = dataset.select_columns(sorted(set(columns.values())))
        for number, row in enumerate(dataset):
            record = apply_columns(row, columns)
            record["language"] = record.get("language") or language
            record["summary_language"] = record.get("summary_language") or (
                config.summary_language if record.get("summary") is not None else None
            )
            record["article_id"] = record.get("article_id") or f"{split}-{number}"
            record["source_split"] = split
            yield canonical(record, "hf")


def _load(config: HFSource, split: str):
    import datasets

    local = Path(config.name)
    try:
        if any((local / name).is_file() for name in ("state.json", "dataset_dict.json")):
            loaded = datasets.load_from_disk(str(local))
            if isinstance(loaded, datasets.DatasetDict):
                return loaded[split]
            return loaded
        from babelsum.hub import dataset_source

        source = dataset_source(config.name, config.revision)  # offline: the prefetched snapshot
        revision = config.revision if source == config.name else None
        return datasets.load_dataset(source, config.config_name, split=split, revision=revision)
    except KeyError:
        raise SourceError(f"data.hf: {config.name} has no split {split!r}") from None
    except (OSError, ValueError) as exc:  # ConnectionError offline, FileNotFoundError, bad split
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SourceError(
            f"data.hf: cannot load dataset {config.name!r}"
            f"{f' (config {config.config_name})' if config.config_name else ''} split {split!r}: "
            f"{first_line}. On an offline node, download it beforehand into the Hub cache "
            "(HF_HUB_CACHE) or point data.hf.name to a local copy."
        ) from None
