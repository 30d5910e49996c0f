"""The synthetic corpus: deterministic, parallel across languages, learnable summaries."""

import re

import pytest

from babelsum.data.schema import FIELDS
from babelsum.data.synthetic import synthetic_articles
from babelsum.lang.detect import detect_language

LANGS = ["en", "fr", "de", "ja"]


def test_same_seed_same_corpus_other_seed_other_topics():
    first = synthetic_articles(topics=12, seed=3, languages=LANGS)
    assert first == synthetic_articles(topics=12, seed=3, languages=LANGS)
    other = synthetic_articles(topics=12, seed=4, languages=LANGS)
    assert {r["article_id"] for r in first} != {r["article_id"] for r in other}


def test_records_are_canonical_and_parallel():
    records = synthetic_articles(topics=10, seed=0, languages=LANGS)
    assert len(records) == 40
    for r in records:
        assert tuple(r) == FIELDS
        assert r["summary_source"] == "gold" and r["source"] == "synthetic"
        assert r["summary_language"] == r["language"]
        assert r["text"].count("\n\n") >= 4  # five paragraphs
    by_topic = {}
    for r in records:
        by_topic.setdefault(r["article_id"], []).append(r["language"])
    assert all(langs == LANGS for langs in by_topic.values())


def test_every_article_reads_as_its_language():
    for r in synthetic_articles(topics=40, seed=0, languages=LANGS):
        assert detect_language(r["text"])[0] == r["language"], r["title"]
        assert detect_language(r["summary"])[0] == r["language"], r["summary"]


def test_japanese_is_written_in_japanese():
    ja = synthetic_articles(topics=5, seed=0, languages=["ja"])
    for r in ja:
        kana = re.findall(r"[\u3040-\u30ff]", r["text"])
        assert len(kana) > 0.3 * len(r["text"])
        assert "です。" in r["summary"]


def test_summary_restates_facts_the_article_states():
    """What makes the demo's fine-tuning learnable: summary words come from the article."""
    for r in synthetic_articles(topics=20, seed=0, languages=["en", "fr", "de"]):
        words = set(re.findall(r"\w+", r["text"].lower()))
        summary_words = re.findall(r"\w+", r["summary"].lower())
        copied = sum(w in words for w in summary_words) / len(summary_words)
        assert copied > 0.75, (r["summary"], copied)


def test_unknown_language_and_too_many_topics_are_refused():
    with pytest.raises(ValueError, match="no it text"):
        synthetic_articles(topics=3, seed=0, languages=["en", "it"])
    with pytest.raises(ValueError, match="asked for 100000"):
        synthetic_articles(topics=100_000, seed=0, languages=["en"])


def test_the_whole_corpus_passes_cleaning_untouched():
    """Every topic is usable by the demo: nothing to normalise, nothing quarantined."""
    from babelsum.config import CleaningConfig
    from babelsum.data.cleaning import Cleaner
    from babelsum.data.countries import countries

    records = synthetic_articles(topics=len(countries()), seed=0, languages=LANGS)
    cleaner = Cleaner(CleaningConfig(), LANGS)
    assert [cleaner.clean(r) for r in records] == records
