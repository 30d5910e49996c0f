"""One evaluation cell's numbers: each prediction checked (language, reference) and scored,
then the cell's counts, off-language share and ROUGE means with 95% intervals."""

from __future__ import annotations

from collections import Counter

from babelsum.metrics.rouge import ROUGE_TYPES, score_pair, summarize_documents

MIN_LETTERS_FOR_LANGUAGE = 3
UNDETERMINED = "und"  # ISO 639-2 for "undetermined"


def check_and_score(record: dict, stem: bool = True) -> dict:
    """The output record of one example: its language, and ROUGE (0 without a prediction)."""
    from babelsum.lang.detect import detect_language

    record = {k: v for k, v in record.items() if k != "row"}
    target = record["summary_language"]
    if not (record.get("reference") or "").strip():
        record["status"], record["reason"] = "failed", "the test article has no reference summary"
    prediction = record.get("prediction") if record["status"] == "ok" else None
    if prediction is not None and sum(c.isalpha() for c in prediction) < MIN_LETTERS_FOR_LANGUAGE:
        # "." or "12" reads as some language to langid; say it cannot be told instead
        record["output_language"], record["off_language"] = UNDETERMINED, None
    elif prediction is not None:
        record["output_language"], confidence = detect_language(prediction)
        record["output_language_confidence"] = round(confidence, 4)
        record["off_language"] = record["output_language"] != target
    else:
        record["output_language"] = None
        record["off_language"] = None
    if record["status"] == "failed":
        record["rouge"] = None
    else:
        record["rouge"] = score_pair(prediction or "", record["reference"], target, stem=stem)
    return record


def cell_scores(
    predictions: list[dict], eval_lang: str, bootstrap_samples: int, seed: int, stem: bool = True
) -> dict:
    """What a matrix cell reports: counts, the off-language share, ROUGE with intervals,
    and generation health (empty outputs, outputs that hit max_new_tokens, lengths).

    ROUGE averages over every example; a failed generation counts 0, like an empty one, so a
    model cannot gain by failing on hard articles (failures are reported next to it).
    """
    n = len(predictions)
    statuses = Counter(p["status"] for p in predictions)
    answered = [p for p in predictions if p["status"] == "ok"]
    off = sum(bool(p["off_language"]) for p in answered)
    judged = [p for p in answered if p["off_language"] is not None]
    zero = dict.fromkeys(ROUGE_TYPES, 0.0)
    per_document = [p["rouge"] or zero for p in predictions]
    targets = Counter(p["summary_language"] for p in predictions)
    reached = sum(bool(p.get("max_new_tokens_reached")) for p in predictions)
    rouge_lang = targets.most_common(1)[0][0] if targets else eval_lang
    return {
        "n": n,
        "ok": statuses["ok"],
        "failures": statuses["failed"],
        "empty": statuses["empty"],
        "failure_share": statuses["failed"] / n if n else None,
        "off_language": off,
        # share of the answered examples (with enough letters to tell) in another language
        "off_language_share": off / len(judged) if judged else None,
        "undetermined_language": len(answered) - len(judged),
        "output_languages": dict(Counter(p["output_language"] for p in answered)),
        "failure_reasons": dict(
            Counter(p["reason"] for p in predictions if p["status"] == "failed")
        ),
        "articles_cut": sum(bool(p.get("article_cut")) for p in predictions),
        "mean_new_tokens": sum(p.get("new_tokens", 0) for p in predictions) / n if n else None,
        "empty_share": statuses["empty"] / n if n else None,
        # generations that used every one of max_new_tokens: most were cut off mid-summary
        "max_new_tokens_reached": reached,
        "max_new_tokens_share": reached / n if n else None,
        # lengths in the evaluated model's tokens: an answer's against its reference's
        "mean_output_tokens": _mean([p.get("new_tokens") for p in answered]),
        "mean_reference_tokens": _mean([p.get("reference_tokens") for p in predictions]),
        "summary_languages": dict(targets),
        "rouge": summarize_documents(
            per_document, rouge_lang, bootstrap_samples=bootstrap_samples, seed=seed, stem=stem
        ),
    }


def _mean(values: list) -> float | None:
    """The mean of the values that were recorded (records of older runs lack some)."""
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None
