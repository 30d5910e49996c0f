"""Prepare stage: read the configured source, clean it, store one canonical Arrow dataset.

Outputs: `dataset/` (datasets.save_to_disk, the fields of `babelsum.data.schema`),
`quarantine.jsonl` (every record set aside, with its reason) and `counts.json` (kept records
per language, quarantined ones per reason and language), also printed and logged.
"""

from __future__ import annotations

import json
import logging
from collections import Counter

from babelsum.errors import StageError
from babelsum.stages import StageContext

log = logging.getLogger(__name__)


def run(ctx: StageContext) -> dict:
    from babelsum.data import quarantine
    from babelsum.data.cleaning import Cleaner
    from babelsum.data.quarantine import Rejected
    from babelsum.data.schema import save_records
    from babelsum.data.sources import read_source

    config = ctx.config
    ctx.tracker.log_params({"source": config.data.source, "languages": ",".join(config.languages)})

    # ---- read and clean, record by record
    cleaner = Cleaner(config.data.cleaning, config.languages)
    kept: list[dict] = []
    rejected: list[Rejected] = []
    # the config the sweep was made from: the Wikipedia snapshot's relative path starts there
    config_file = ctx.folder.meta().get("config_source") if ctx.folder.meta_path.is_file() else None
    for item in read_source(config, config_file):  # a SourceError is the task's reason
        outcome = item if isinstance(item, Rejected) else cleaner.clean(item)
        (rejected if isinstance(outcome, Rejected) else kept).append(outcome)

    # ---- outputs
    save_records(kept, ctx.output_dir / "dataset")
    quarantine.write_quarantine(ctx.output_dir / "quarantine.jsonl", rejected)
    kept_counts = dict(sorted(Counter(r["language"] for r in kept).items()))
    quarantined = quarantine.counts_by_reason(rejected)
    counts = {"read": len(kept) + len(rejected), "kept": kept_counts, "quarantined": quarantined}
    (ctx.output_dir / "counts.json").write_text(json.dumps(counts, indent=2) + "\n")

    table = quarantine.format_counts(kept_counts, quarantined)
    print(f"prepare: {len(kept)} articles kept, {len(rejected)} quarantined\n{table}", flush=True)
    log.info("prepare counts\n%s", table)
    metrics = quarantine.metrics(kept_counts, quarantined)
    ctx.tracker.log_metrics(metrics)
    ctx.tracker.log_artifact(ctx.output_dir / "counts.json")
    ctx.tracker.log_artifact(ctx.output_dir / "quarantine.jsonl")

    empty = [lang for lang in config.languages if not kept_counts.get(lang)]
    if empty:
        reasons = ", ".join(
            f"{reason} {by_lang[lang]}"
            for reason, by_lang in quarantined.items()
            for lang in empty
            if by_lang.get(lang)
        )
        raise StageError(
            f"no article left in {', '.join(empty)} after cleaning"
            f"{f' (quarantined: {reasons})' if reasons else ''}; "
            "see quarantine.jsonl and data.cleaning"
        )
    return {"read": counts["read"], **metrics}
