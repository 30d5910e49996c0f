"""Multilingual ROUGE: rouge-score's scorer with a tokenizer that knows the language.

Scores are F1 on a 0-1 scale. A corpus score is the mean of the per-document F1 with a seeded
bootstrap 95% interval (see `babelsum.metrics.bootstrap`). ROUGE-Lsum needs one sentence per
line: both texts are split with `babelsum.lang.sentences.split_sentences` (the sentencex
segmenter, with repairs for the study's languages) before scoring, so ROUGE-Lsum differs from
ROUGE-L whenever a summary has several sentences. Tokenizers are described in
`babelsum.metrics.tokenizers`; every result names the one it used, and the segmenter and its
version (a new segmenter version can move ROUGE-Lsum).

An empty or missing prediction scores 0, never NaN.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

from babelsum.errors import ScoreInputError
from babelsum.lang.sentences import segmenter_info, split_sentences
from babelsum.metrics.bootstrap import CONFIDENCE, mean_interval, resample_indices
from babelsum.metrics.tokenizers import tokenizer_for

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")


@functools.cache
def _scorer(lang: str, stem: bool):
    from rouge_score.rouge_scorer import RougeScorer

    return RougeScorer(list(ROUGE_TYPES), tokenizer=tokenizer_for(lang, stem))


def tokenizer_description(lang: str, stem: bool = True) -> str:
    return tokenizer_for(lang, stem).description


def one_sentence_per_line(text: str, lang: str) -> str:
    return "\n".join(split_sentences(text, lang))


def score_pair(pred: str | None, ref: str, lang: str, *, stem: bool = True) -> dict[str, float]:
    """ROUGE-1/2/L/Lsum F1 of one prediction against its reference (0 for an empty one)."""
    scores = _scorer(lang, stem).score(
        one_sentence_per_line(ref, lang), one_sentence_per_line(pred or "", lang)
    )
    return {name: float(scores[name].fmeasure) for name in ROUGE_TYPES}


def score_documents(
    predictions: Sequence[str | None], references: Sequence[str], lang: str, *, stem: bool = True
) -> list[dict[str, float]]:
    """`score_pair` of each (prediction, reference), in order."""
    if len(predictions) != len(references):
        raise ValueError(
            f"{len(predictions)} predictions but {len(references)} references; "
            "they must pair one to one"
        )
    return [score_pair(p, r, lang, stem=stem) for p, r in zip(predictions, references, strict=True)]


def summarize_documents(
    per_document: Sequence[dict[str, float]],
    lang: str,
    *,
    bootstrap_samples: int = 1000,
    seed: int = 0,
    stem: bool = True,
) -> dict:
    """Corpus scores from per-document scores: for each ROUGE type the mean and its interval.

    Keys: n, rouge1, rouge1_low, rouge1_high, ... (flat numbers, ready for a tracker; None
    when there are no documents), and
    `method` (lang, tokenizer, scale, bootstrap settings) so a number says how it was made.
    """
    n = len(per_document)
    result: dict = {"n": n}
    indices = resample_indices(n, bootstrap_samples, seed) if n else None
    for name in ROUGE_TYPES:
        interval = mean_interval([d[name] for d in per_document], indices=indices)
        # no documents: no score (None, not NaN, which JSON cannot hold)
        result[name] = interval.mean if n else None
        result[f"{name}_low"] = interval.low if n else None
        result[f"{name}_high"] = interval.high if n else None
    result["method"] = {
        "lang": lang,
        "tokenizer": tokenizer_description(lang, stem),
        "sentence_split": "babelsum.lang.sentences.split_sentences (for rougeLsum)",
        "sentence_segmenter": segmenter_info(),
        "scale": "F1, 0-1",
        "aggregate": "mean of per-document F1",
        "interval": f"{CONFIDENCE:.0%} percentile bootstrap over documents",
        "bootstrap_samples": bootstrap_samples,
        "seed": seed,
    }
    return result


def score_corpus(
    predictions: Sequence[str | None],
    references: Sequence[str],
    lang: str,
    *,
    bootstrap_samples: int = 1000,
    seed: int = 0,
    stem: bool = True,
) -> dict:
    """Corpus ROUGE of paired predictions and references in `lang` (see `summarize_documents`)."""
    per_document = score_documents(predictions, references, lang, stem=stem)
    return summarize_documents(
        per_document, lang, bootstrap_samples=bootstrap_samples, seed=seed, stem=stem
    )


def score_files(
    pred_path: str | Path,
    ref_path: str | Path,
    lang: str,
    *,
    bootstrap_samples: int = 1000,
    seed: int = 0,
) -> dict:
    """Corpus ROUGE of two UTF-8 files holding one text per line (`launch score`).

    Raises ScoreInputError for a missing, unreadable or empty file, or files of different
    lengths.
    """
    predictions = _read_lines(Path(pred_path), "prediction")
    references = _read_lines(Path(ref_path), "reference")
    if len(predictions) != len(references):
        raise ScoreInputError(
            f"{pred_path} has {len(predictions)} predictions but {ref_path} has "
            f"{len(references)} references; the files must pair line by line"
        )
    return score_corpus(
        predictions, references, lang, bootstrap_samples=bootstrap_samples, seed=seed
    )


def _read_lines(path: Path, what: str) -> list[str]:
    if not path.is_file():
        raise ScoreInputError(f"no {what} file at {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ScoreInputError(
            f"{what} file {path} is not UTF-8 (byte {err.start}); convert it first"
        ) from None
    if not text.strip():
        raise ScoreInputError(f"{what} file {path} is empty; expected one text per line")
    # split on "\n" only: str.splitlines also breaks at characters such as U+2028 that may
    # sit inside a text, and would then misalign predictions and references
    return [line.removesuffix("\r") for line in text.removesuffix("\n").split("\n")]
