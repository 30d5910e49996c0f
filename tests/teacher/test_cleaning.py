"""Cleaning rules on planted artefacts, the language and length checks, sentence splitting."""

import pytest

from babelsum.lang.detect import detect_language
from babelsum.lang.sentences import join_sentences, split_sentences
from babelsum.teacher.checks import check_summary, summary_length
from babelsum.teacher.cleaning import clean_summary

FR = "La ville de Lyon se trouve sur le Rhône. Elle compte un demi-million d'habitants."
EN = "The city of Lyon lies on the Rhône. It has about half a million inhabitants."
DE = "Die Stadt Lyon liegt an der Rhône. Sie hat etwa eine halbe Million Einwohner."
JA = "リヨンはローヌ川沿いの都市である。人口は約50万人である。"


@pytest.mark.parametrize(
    ("lang", "raw", "clean", "removed"),
    [
        ("en", f"**Summary:**\n{EN}", EN, ("markup", "preamble")),
        ("en", f"Here is a summary of the article:\n\n{EN}", EN, ("preamble",)),
        ("fr", f"Voici un résumé de l'article :\n{FR}", FR, ("preamble",)),
        ("fr", f"Résumé : {FR}", FR, ("preamble",)),
        ("de", f"## Zusammenfassung\n{DE}", DE, ("markup", "preamble")),
        ("ja", f"以下は記事の要約です。\n{JA}", JA, ("preamble",)),
        # a second summary after the first
        ("en", f"{EN}\n\nAlternative summary:\nLyon is a city in France.", EN, ("second summary",)),
        ("fr", f"{FR}\n\n---\n\n{FR}", FR, ("second summary",)),
        ("en", f"Summary 1: {EN}\n\nSummary 2: Lyon is a French city.", EN, None),
        ("de", f"{DE}\n\nÜbersetzung:\n{EN}", DE, ("second summary",)),
        # a summary in another language, appended without a heading
        ("fr", f"{FR}\n\n{EN}", FR, ("other language",)),
        ("de", f"{DE}\n{FR}", DE, ("other language",)),
        # comments about the summary
        ("en", f"{EN} This summary covers the geography and population.", EN, ("meta comment",)),
        ("fr", f"{FR} Ce résumé présente la ville.", FR, ("meta comment",)),
        ("de", f"{DE} Diese Zusammenfassung beschreibt die Stadt.", DE, ("meta comment",)),
        ("ja", f"{JA}この要約は地理を扱っています。", JA, ("meta comment",)),
        # offers of further help, and everything after them
        ("en", f"{EN}\n\nLet me know if you need more details! Thanks.", EN, ("offer of help",)),
        ("en", f"{EN} I hope this helps.", EN, ("offer of help",)),
        ("fr", f"{FR} N'hésitez pas à me demander plus de détails.", FR, ("offer of help",)),
        ("de", f"{DE} Wenn Sie weitere Fragen haben, helfe ich gern.", DE, ("offer of help",)),
        ("ja", f"{JA}他にご質問があればお気軽にどうぞ。", JA, ("offer of help",)),
        # a clean summary is left alone
        ("fr", FR, FR, ()),
        ("en", "Dr. Smith founded the firm in 1950. It grew fast.", None, ()),
    ],
)
def test_planted_artefacts_are_removed(lang, raw, clean, removed):
    result = clean_summary(raw, lang)
    assert result.text == (raw if clean is None else clean)
    if removed is not None:
        assert result.removed == removed


def test_everything_at_once():
    raw = (
        "**Résumé :**\n\n"
        f"{FR} Ce résumé couvre la géographie.\n\n"
        f"{EN}\n\n"
        "Si vous avez besoin d'autres informations, n'hésitez pas !"
    )
    result = clean_summary(raw, "fr")
    assert result.text == FR
    assert set(result.removed) == {"markup", "preamble", "other language", "meta comment"} | {
        "offer of help"
    }


@pytest.mark.parametrize(("text", "lang"), [(FR, "fr"), (EN, "en"), (DE, "de"), (JA, "ja")])
def test_language_detection(text, lang):
    assert detect_language(text)[0] == lang
    assert check_summary(text, lang, min_words=3, max_words=100) is None


def test_wrong_language_is_a_failure_with_its_reason():
    reason = check_summary(EN, "fr", min_words=3, max_words=100)
    assert reason.startswith("wrong language: reads as en") and reason.endswith("expected fr")
    assert check_summary(EN, "fr", min_words=3, max_words=100, check_language=False) is None


def test_a_character_cut_by_the_token_limit():
    assert clean_summary(JA + "人\ufffd", "ja").text == JA + "人"
    reason = check_summary("Lyon \ufffd est une ville.", "fr", min_words=1, max_words=50)
    assert reason.startswith("garbled")


def test_length_limits():
    assert check_summary("Lyon est belle.", "fr", min_words=5, max_words=100) == (
        "too short: 3 words (min_words 5)"
    )
    assert check_summary(FR, "fr", min_words=1, max_words=5).startswith("too long: 14 words")
    assert check_summary("  ", "fr", min_words=0, max_words=5) == "empty after cleaning"
    # Japanese has no spaces: two characters count as a word
    assert summary_length(JA, "ja") == len(JA) // 2


def test_sentence_splitting_by_script():
    assert split_sentences("Dr. Smith came. He met J. R. Tolkien! Was it 1950? Yes.", "en") == [
        "Dr. Smith came.",
        "He met J. R. Tolkien!",
        "Was it 1950?",
        "Yes.",
    ]
    assert split_sentences("M. Dupont dit « Bonjour. » Puis il part.", "fr") == [
        "M. Dupont dit « Bonjour. »",
        "Puis il part.",
    ]
    assert split_sentences("Das ist z. B. gut. Es hat ca. 500 Einwohner.", "de") == [
        "Das ist z. B. gut.",
        "Es hat ca. 500 Einwohner.",
    ]
    assert split_sentences(JA, "ja") == [
        "リヨンはローヌ川沿いの都市である。",
        "人口は約50万人である。",
    ]
    assert join_sentences(split_sentences(JA, "ja"), "ja") == JA
    assert split_sentences("A heading\nThe text. More", "en") == ["A heading", "The text.", "More"]
