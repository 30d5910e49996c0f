"""Cleaning: normalisation, and every quarantine reason with its detail."""

from babelsum.config import CleaningConfig
from babelsum.data.cleaning import Cleaner, normalize_text
from babelsum.data.quarantine import Rejected, counts_by_reason, format_counts

EN = (
    "The river crosses the old town from east to west and has shaped its history for "
    "centuries. Merchants built their houses along the banks, and the bridges that link "
    "both halves of the town are among the oldest in the region. Today the quays are lined "
    "with cafés, markets and small museums that draw visitors all year round."
)
DE = (
    "Der Fluss durchquert die Altstadt von Osten nach Westen und hat ihre Geschichte seit "
    "Jahrhunderten geprägt. Kaufleute bauten ihre Häuser entlang der Ufer, und die Brücken, "
    "die beide Hälften der Stadt verbinden, gehören zu den ältesten der Region."
)


def record(**fields) -> dict:
    base = {
        "article_id": "t1",
        "language": "en",
        "title": "River",
        "text": EN,
        "summary": "A river shaped the old town and its quays.",
        "summary_language": "en",
        "summary_source": "gold",
        "url": None,
        "source": "files",
    }
    return base | fields


def cleaner(**config) -> Cleaner:
    return Cleaner(CleaningConfig(**({"min_chars": 100} | config)), ["en", "de"])


def test_normalize_text_nfc_markup_and_whitespace():
    raw = (
        "Cafe\u0301 <b>bold</b> [[Paris|the capital]] {{cite|x}}<ref>note</ref>\r\n"
        "'''Strong''' &amp;  spaced\u200b\t out\n\n\n\n== Heading ==\nend"
    )
    assert normalize_text(raw) == ("Café bold the capital\nStrong & spaced out\n\nHeading\nend")


def test_clean_record_is_normalized_and_kept():
    kept = cleaner().clean(record(text=EN.replace(". ", ".   "), title=" River "))
    assert isinstance(kept, dict)
    assert kept["text"] == EN and kept["title"] == "River"


def test_quarantine_reasons():
    c = cleaner()
    cases = {
        "missing_field": record(text=None),
        "invalid_utf8": record(text=EN + b"\xff".decode("utf-8", "surrogateescape")),
        "unknown_language": record(language="xx"),
        "language_not_in_study": record(language="fr"),
        "empty": record(text="{{only a template}}"),
        "too_short": record(text="Too short."),
        "too_long": record(text=EN * 1000),
        "summary_too_short": record(summary="Short."),
        "wrong_language": record(article_id="t2", text=DE),
    }
    for reason, bad in cases.items():
        outcome = c.clean(bad)
        assert isinstance(outcome, Rejected) and outcome.reason == reason, (reason, outcome)
    assert "reads as de" in c.clean(record(article_id="t3", text=DE)).detail
    assert "\\xff" in c.clean(cases["invalid_utf8"]).to_json()["record"]["text"]  # JSON-able


def test_duplicates_by_id_and_by_text():
    c = cleaner()
    assert isinstance(c.clean(record()), dict)
    assert c.clean(record(title="again")).reason == "duplicate_id"
    twin = c.clean(record(article_id="t9", text=EN.upper()))
    assert twin.reason == "duplicate_text" and "t1 (en)" in twin.detail


def test_short_texts_get_the_benefit_of_the_doubt():
    """Language ID on a sentence or two is unreliable: short texts pass unless it is sure."""
    c = cleaner(min_chars=10)
    ambiguous = "Hotel Restaurant Bar Taxi Parking"
    assert isinstance(c.clean(record(text=ambiguous, summary=None)), dict)


def test_counts_table():
    rejected = [
        Rejected("too_short", "", {"language": "en"}),
        Rejected("too_short", "", {"language": "de"}),
        Rejected("duplicate_text", "", {"language": "en"}),
    ]
    counts = counts_by_reason(rejected)
    assert counts == {"duplicate_text": {"en": 1}, "too_short": {"de": 1, "en": 1}}
    table = format_counts({"en": 5, "de": 4}, counts)
    assert "quarantined: too_short" in table and table.splitlines()[1].split()[-1] == "9"


def test_raw_wikitext_reaches_the_dataset_as_the_original_study_fed_it():
    """paper-as-run: data.wikipedia.raw_wikitext keeps the page's markup, and
    data.cleaning.strip_markup: false keeps the cleaner from stripping it again."""
    from pathlib import Path

    from babelsum.config import WikipediaSource
    from babelsum.data.sources.wikipedia import read_wikipedia

    replay = str(Path(__file__).parent / "wikipedia_replay")
    raw = next(read_wikipedia(WikipediaSource(recording=replay, raw_wikitext=True), ["en"]))
    prose = next(read_wikipedia(WikipediaSource(recording=replay), ["en"]))
    assert raw["article_id"] == prose["article_id"] == "Q90"
    assert "{{" in raw["text"] and "[[" in raw["text"] and "{{" not in prose["text"]
    as_run = Cleaner(CleaningConfig(strip_markup=False, check_language=False), ["en"])
    kept = as_run.clean(dict(raw))
    assert kept["text"] == normalize_text(raw["text"], remove_markup=False)
    assert "{{" in kept["text"] and "[[" in kept["text"]
    corrected = Cleaner(CleaningConfig(check_language=False), ["en"]).clean(dict(raw))
    assert "{{" not in corrected["text"]
