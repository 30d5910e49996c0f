"""Multilingual ROUGE pinned on hand-made cases, language by language."""

import json
import logging
from importlib.metadata import version

import pytest
from rouge_score.rouge_scorer import RougeScorer

from babelsum.metrics.rouge import (
    ROUGE_TYPES,
    ScoreInputError,
    score_corpus,
    score_files,
    score_pair,
)
from babelsum.metrics.tokenizers import tokenizer_for

IDENTICAL = {
    "en": "The central bank raised interest rates. Markets fell sharply on Monday.",
    "fr": "L'élève a été récompensé. La Banque de France a relevé ses taux d'intérêt.",
    "de": "Die Straße nach Köln ist gesperrt. Der Bundestag beschließt ein neues Gesetz.",
    "ja": "東京都は新しい政策を発表した。市場は月曜日に大きく下落した。",
    # SLDS-style German legal headnote
    "de-legal": "Art. 8 Abs. 2 BV; Verbot der Diskriminierung. Die Beschwerde wird gutgeheissen.",
}


@pytest.mark.parametrize("name", list(IDENTICAL))
def test_identical_texts_score_one_in_every_language(name):
    lang = name.split("-")[0]
    scores = score_pair(IDENTICAL[name], IDENTICAL[name], lang)
    assert scores == dict.fromkeys(ROUGE_TYPES, 1.0)


ENGLISH_PAIRS = [
    ("The cats are running in the gardens.", "A cat runs in the garden."),
    ("Markets fell sharply on Monday after the bank raised rates.", "Rates rose; markets fell."),
    ("Stocks rallied.\nBonds were flat.", "Bonds were flat.\nStocks rallied strongly."),
    ("Numbers: 2024 and 3.5 percent growth", "Growth of 3.5 percent in 2024"),
    ("", "An empty prediction."),
]


@pytest.mark.parametrize(("pred", "ref"), ENGLISH_PAIRS)
def test_english_equals_rouge_score_with_porter_stemmer(pred, ref):
    """English is rouge-score's own scoring (default tokenizer, Porter), so numbers compare."""
    theirs = RougeScorer(list(ROUGE_TYPES), use_stemmer=True).score(ref, pred)
    ours = score_pair(pred, ref, "en")
    for name in ROUGE_TYPES:
        assert ours[name] == pytest.approx(theirs[name].fmeasure, abs=1e-12), name


def test_english_stemming_matches_plural_and_singular():
    assert score_pair("cats", "cat", "en")["rouge1"] == 1.0
    assert score_pair("cats", "cat", "en", stem=False)["rouge1"] == 0.0


def test_french_and_german_words_stay_whole_with_accents():
    words = tokenizer_for("fr", stem=False).tokenize("L'élève a été récompensé")
    assert words == ["l", "élève", "a", "été", "récompensé"]
    words = tokenizer_for("de", stem=False).tokenize("Die Straße führt über Köln")
    assert words == ["die", "straße", "führt", "über", "köln"]


def test_accents_are_kept_not_folded():
    assert score_pair("été", "ete", "fr")["rouge1"] == 0.0


def test_case_is_ignored():
    assert score_pair("Paris", "paris", "fr")["rouge1"] == 1.0
    assert score_pair("Paris", "paris", "en")["rouge1"] == 1.0


def test_decomposed_and_precomposed_accents_match():
    assert score_pair("e\u0301te\u0301", "\u00e9t\u00e9", "fr")["rouge1"] == 1.0


def test_french_uses_snowball_not_porter():
    tokenizer = tokenizer_for("fr")
    assert "Snowball french" in tokenizer.description
    # Snowball French joins inflections Porter would not know
    assert score_pair("économies", "économie", "fr")["rouge1"] == 1.0


def test_japanese_is_segmented_into_morphemes():
    tokens = tokenizer_for("ja").tokenize("東京都は新しい政策を発表した。")
    assert tokens == ["東京", "都", "は", "新しい", "政策", "を", "発表", "し", "た"]


def test_japanese_partial_overlap():
    scores = score_pair("東京都は新しい方針を発表した。", "東京都は新しい政策を発表した。", "ja")
    assert 0.6 < scores["rouge1"] < 1.0
    assert scores["rouge2"] > 0
    assert scores["rouge1"] == pytest.approx(8 / 9)


def test_japanese_full_width_digits_match_ascii():
    assert score_pair("２０２３年", "2023年", "ja")["rouge1"] == 1.0


@pytest.mark.parametrize(
    ("lang", "pred", "ref"),
    [
        (
            "fr",
            "Le marché a chuté. La banque a relevé ses taux.",
            "La banque a relevé ses taux. Le marché a chuté.",
        ),
        ("ja", "市場は下落した。銀行は金利を上げた。", "銀行は金利を上げた。市場は下落した。"),
    ],
)
def test_rouge_lsum_splits_sentences_by_language(lang, pred, ref):
    """With sentences reordered, sentence-level LCS (Lsum) beats plain LCS (L)."""
    scores = score_pair(pred, ref, lang)
    assert scores["rougeLsum"] == 1.0
    assert scores["rougeL"] < 1.0


def test_empty_and_disjoint_predictions_score_zero():
    for lang in ("en", "fr", "ja"):
        assert score_pair("", "Un texte.", lang) == dict.fromkeys(ROUGE_TYPES, 0.0)
        assert score_pair(None, "Un texte.", lang) == dict.fromkeys(ROUGE_TYPES, 0.0)
    assert score_pair("猫が寝る", "犬は走った", "ja")["rouge1"] == 0.0


def test_swapping_prediction_and_reference_keeps_f1():
    a, b = "La banque centrale a relevé ses taux.", "La banque a relevé les taux d'intérêt."
    assert score_pair(a, b, "fr") == pytest.approx(score_pair(b, a, "fr"))


def test_unsupported_language_falls_back_with_a_warning(caplog):
    tokenizer_for.cache_clear()
    with caplog.at_level(logging.WARNING, logger="babelsum.metrics.tokenizers"):
        scores = score_pair("这是一个测试", "这是一个测试", "zh")
        score_pair("Ein Test", "Ein Test", "sv")
    assert scores["rouge1"] == 1.0
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "'zh'" in warned and "'sv'" in warned and "fallback" in warned
    # Han characters count one by one, Latin runs whole
    assert tokenizer_for("zh").tokenize("东京tower!") == ["东", "京", "tower"]
    assert score_corpus(["这是测试"], ["这是测试"], "zh")["method"]["tokenizer"].startswith(
        "unicode fallback"
    )


def test_corpus_score_is_the_mean_of_document_f1_with_a_seeded_interval():
    preds = ["a b c d", "x y", "the cat", "un deux trois"]
    refs = ["a b", "x z", "the dog", "un deux trois"]
    per_doc = [score_pair(p, r, "fr")["rouge1"] for p, r in zip(preds, refs, strict=True)]
    first = score_corpus(preds, refs, "fr", bootstrap_samples=500, seed=3)
    again = score_corpus(preds, refs, "fr", bootstrap_samples=500, seed=3)
    assert first == again
    assert first["n"] == 4
    assert first["rouge1"] == pytest.approx(sum(per_doc) / 4)
    assert first["rouge1_low"] <= first["rouge1"] <= first["rouge1_high"]
    assert first["method"]["scale"] == "F1, 0-1"
    other_seed = score_corpus(preds, refs, "fr", bootstrap_samples=500, seed=4)
    assert other_seed["rouge1"] == first["rouge1"]


def test_corpus_of_nothing_has_no_score():
    result = score_corpus([], [], "en")
    assert result["n"] == 0 and result["rouge1"] is None


def test_corpus_lengths_must_match():
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        score_corpus(["a", "b"], ["a"], "en")


def test_score_files(tmp_path):
    pred, ref = tmp_path / "pred.txt", tmp_path / "ref.txt"
    pred.write_text("東京都は新しい方針を発表した。\n市場は下落した。\n", encoding="utf-8")
    ref.write_text("東京都は新しい政策を発表した。\n市場は下落した。\n", encoding="utf-8")
    result = score_files(pred, ref, "ja")
    assert result["n"] == 2
    assert result["rouge1"] == pytest.approx((8 / 9 + 1) / 2)
    json.dumps(result)  # printable as JSON by `launch score`


def test_scores_name_the_sentence_segmenter_and_its_version(tmp_path):
    """A new segmenter version can move ROUGE-Lsum: every score says which one split it."""
    pred, ref = tmp_path / "pred.txt", tmp_path / "ref.txt"
    pred.write_text("Im 19. Jahrhundert wuchs die Stadt. Sie ist alt.\n", encoding="utf-8")
    ref.write_text("Die Stadt ist alt.\n", encoding="utf-8")
    segmenter = score_files(pred, ref, "de")["method"]["sentence_segmenter"]
    assert segmenter["name"] == "sentencex"
    assert segmenter["version"] == version("sentencex")
    assert score_corpus([], [], "en")["method"]["sentence_segmenter"] == segmenter


def test_score_files_errors(tmp_path):
    pred, ref = tmp_path / "pred.txt", tmp_path / "ref.txt"
    pred.write_text("one\ntwo\nthree\n")
    ref.write_text("one\ntwo\n")
    with pytest.raises(ScoreInputError, match=r"pred.txt has 3 predictions but .*ref.txt has 2"):
        score_files(pred, ref, "en")
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(ScoreInputError, match="reference file .*empty.txt is empty"):
        score_files(pred, empty, "en")
    with pytest.raises(ScoreInputError, match="no prediction file at .*missing.txt"):
        score_files(tmp_path / "missing.txt", ref, "en")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("été\n".encode("latin-1"))
    with pytest.raises(ScoreInputError, match="not UTF-8"):
        score_files(latin1, ref, "fr")


def test_score_files_keeps_blank_predictions_in_place(tmp_path):
    pred, ref = tmp_path / "pred.txt", tmp_path / "ref.txt"
    pred.write_text("\nthe cat\n")
    ref.write_text("a dog\nthe cat\n")
    result = score_files(pred, ref, "en")
    assert result["n"] == 2 and result["rouge1"] == pytest.approx(0.5)
