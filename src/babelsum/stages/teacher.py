"""Teacher stage: write a reference summary for each article of one shard, in its own language.

Shard i of n takes the rows of the prepare dataset whose position % n == i. For each chunk of
articles: the backend (lead, hf or vllm) writes, the artefacts are cleaned off, the language
and length are checked, failures are asked once more with another prompt variant, and the
records are appended to the shard's journal in the work folder, so a killed shard resumes
where it stopped. The output is `summaries.jsonl`, one record per article, in row order:
{"article_id", "language", "summary", "summary_language", "variant", "status", "reason"}.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path

from babelsum.stages import StageContext

log = logging.getLogger(__name__)

JOURNAL = "summaries.partial.jsonl"
OUTPUT = "summaries.jsonl"
OUTPUT_FIELDS = (
    "article_id",
    "language",
    "summary",
    "summary_language",
    "variant",
    "status",
    "reason",
)


def run(ctx: StageContext) -> dict:
    from babelsum.files import RowJournal
    from babelsum.models.prompts import chosen_prompts
    from babelsum.teacher.backends import open_backend

    teacher = ctx.config.teacher
    shard, shards = ctx.params["shard"], ctx.params["shards"]
    prompts = chosen_prompts(ctx.config, "teacher", teacher.model, lambda: ctx.config_dir)
    ctx.tracker.log_params(
        {
            "backend": teacher.backend,
            "model": teacher.model,
            "shard": shard,
            "shards": shards,
            "prompts": prompts.name,
        }
    )

    # ---- the shard's articles, minus those a previous attempt finished
    articles = _shard_articles(ctx.input("prepare") / "dataset", shard, shards)
    journal = RowJournal(ctx.work_dir / JOURNAL)
    done = journal.read()
    todo = [a for a in articles if a.row not in done]
    log.info("shard %d/%d: %d articles, %d done before", shard, shards, len(articles), len(done))

    # ---- write, clean, check, retry; commit each chunk to the journal
    cleaned: Counter[str] = Counter()
    retried = truncated = 0
    if todo:
        backend = open_backend(ctx.config, prompts)
        chunk = teacher.batch_size * 4  # articles per commit to the journal
        for start in range(0, len(todo), chunk):
            records, chunk_cleaned, chunk_retried = _summarize(
                backend, todo[start : start + chunk], teacher, prompts
            )
            journal.append(records)
            cleaned += chunk_cleaned
            retried += chunk_retried
            finished_so_far = len(done) + start + len(records)
            log.info("shard %d: %d/%d articles", shard, finished_so_far, len(articles))
        truncated = backend.truncated

    # ---- the output, in row order, and the counts per language
    finished = journal.read()
    assert all(a.row in finished for a in articles), "every article of the shard has a record"
    with open(ctx.output_dir / OUTPUT, "w", encoding="utf-8") as f:
        for article in articles:
            record = {k: finished[article.row][k] for k in OUTPUT_FIELDS}
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    return _log_counts(ctx, [finished[a.row] for a in articles], cleaned, retried, truncated)


def _shard_articles(dataset_dir: Path, shard: int, shards: int):
    import datasets

    from babelsum.teacher.backends import Article

    dataset = datasets.load_from_disk(str(dataset_dir))
    rows = list(range(shard, len(dataset), shards))
    picked = dataset.select(rows).select_columns(["article_id", "language", "title", "text"])
    return [
        Article(row, r["article_id"], r["language"], r["title"] or "", r["text"])
        for row, r in zip(rows, picked, strict=True)
    ]


def _summarize(backend, articles, teacher, prompts) -> tuple[list[dict], Counter, int]:
    """Journal records for `articles` (a first answer, and a second prompt variant for the
    failures), the artefacts cleaned off, and how many articles were asked again."""
    from babelsum.models.prompts import variant_count

    def first_variant(article) -> int:
        if not backend.uses_prompts:
            return 0
        # Rotation follows the row position, so it does not depend on the number of shards.
        count = variant_count(article.language, prompts)
        return (article.row // teacher.rotate_every) % count

    variants = [first_variant(a) for a in articles]
    outcomes = [
        _judge(g, a, v, teacher)
        for a, v, g in zip(articles, variants, backend.summarize(articles, variants), strict=True)
    ]
    again = [i for i, o in enumerate(outcomes) if o["status"] == "failed"]
    if backend.uses_prompts and again:
        retry_variants = [
            (variants[i] + 1) % variant_count(articles[i].language, prompts) for i in again
        ]
        answers = backend.summarize([articles[i] for i in again], retry_variants)
        for i, v, g in zip(again, retry_variants, answers, strict=True):
            second = _judge(g, articles[i], v, teacher)
            if second["status"] == "failed":
                second["reason"] = f"{outcomes[i]['reason']}; retry: {second['reason']}"
            outcomes[i] = second
    cleaned = Counter(rule for o in outcomes for rule in o.pop("cleaned"))
    return outcomes, cleaned, len(again) if backend.uses_prompts else 0


def _judge(generation, article, variant: int, teacher) -> dict:
    """The journal record of one answer: cleaned and checked, or failed with its reason."""
    from babelsum.teacher.checks import check_summary
    from babelsum.teacher.cleaning import clean_summary

    record = {
        "row": article.row,
        "article_id": article.article_id,
        "language": article.language,
        "summary": None,
        "summary_language": article.language,
        "variant": variant,
        "status": "failed",
        "reason": generation.reason,
        "cleaned": [],
    }
    if generation.status != "ok":
        record["reason"] = f"{generation.status}: {generation.reason}"
        return record
    cleaned = clean_summary(generation.text, article.language)
    reason = check_summary(
        cleaned.text,
        article.language,
        min_words=teacher.min_words,
        max_words=teacher.max_words,
        check_language=teacher.check_language,
    )
    record["cleaned"] = list(cleaned.removed)
    if reason:
        record["reason"] = reason
        return record
    record.update(summary=cleaned.text, status="ok", reason=None)
    return record


def _log_counts(
    ctx: StageContext, records: list[dict], cleaned: Counter, retried: int, truncated: int
) -> dict:
    kept = Counter(r["language"] for r in records if r["status"] == "ok")
    failed = Counter(r["language"] for r in records if r["status"] != "ok")
    metrics = {"kept": sum(kept.values()), "failed": sum(failed.values())}
    for lang in sorted(set(kept) | set(failed)):
        metrics[f"kept/{lang}"] = kept[lang]
        metrics[f"failed/{lang}"] = failed[lang]
        log.info("teacher %s: %d kept, %d failed", lang, kept[lang], failed[lang])
    metrics["retried"] = retried
    metrics["truncated"] = truncated
    for rule, n in cleaned.items():
        metrics[f"cleaned/{rule.replace(' ', '_')}"] = n
    ctx.tracker.log_metrics(metrics)
    return {"articles": len(records), **metrics}
