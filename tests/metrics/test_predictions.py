"""What one evaluation cell reports: per-example checks and the cell's counts and scores."""

import pytest

from babelsum.metrics.predictions import cell_scores, check_and_score


def record(prediction, status="ok", target="en", reference=None, reason=None):
    return {
        "row": 0,
        "article_id": "topic-lyon",
        "language": "en",
        "summary_language": target,
        "reference": reference or "Lyon is a river city of half a million people.",
        "prediction": prediction,
        "status": status,
        "reason": reason,
        "new_tokens": 12,
        "article_cut": False,
    }


def test_a_prediction_gets_its_language_and_rouge():
    out = check_and_score(record("Lyon is a river city of half a million people."))
    assert out["output_language"] == "en" and out["off_language"] is False
    assert out["rouge"]["rouge1"] == 1.0
    assert "row" not in out


def test_a_prediction_in_another_language_is_off_language():
    text = "Lyon est une ville fluviale d'un demi-million d'habitants, célèbre pour sa cuisine."
    out = check_and_score(record(text))
    assert out["output_language"] == "fr" and out["off_language"] is True


def test_an_output_too_short_to_tell_is_not_counted_off_language():
    outputs = [check_and_score(record(text)) for text in (".", "C.", "Lyon is a river city.")]
    assert [o["output_language"] for o in outputs[:2]] == ["und", "und"]
    assert [o["off_language"] for o in outputs] == [None, None, False]
    cell = cell_scores(outputs, "en", bootstrap_samples=50, seed=0)
    assert cell["off_language_share"] == 0.0 and cell["undetermined_language"] == 2


def test_failed_and_empty_predictions():
    failed = check_and_score(record(None, "failed", reason="RuntimeError: out of memory"))
    assert failed["rouge"] is None and failed["output_language"] is None
    assert failed["reason"] == "RuntimeError: out of memory"
    empty = check_and_score(record(None, "empty", reason="the model generated no text"))
    assert empty["rouge"]["rouge1"] == 0.0 and empty["off_language"] is None


def test_an_article_without_reference_is_a_recorded_failure():
    out = check_and_score(record("Some text.", reference=" "))
    assert out["status"] == "failed"
    assert out["reason"] == "the test article has no reference summary"


def test_cell_counts_and_zero_scores_for_failures():
    predictions = [
        check_and_score(record("Lyon is a river city of half a million people.")),
        check_and_score(record(None, "failed", reason="RuntimeError: out of memory")),
        check_and_score(record(None, "empty", reason="the model generated no text")),
        check_and_score(
            record("Lyon est une ville fluviale d'un demi-million d'habitants au bord du Rhône.")
        ),
    ]
    scores = cell_scores(predictions, "en", bootstrap_samples=100, seed=0)
    assert (scores["n"], scores["ok"], scores["failures"], scores["empty"]) == (4, 2, 1, 1)
    assert scores["failure_share"] == 0.25
    assert scores["off_language"] == 1 and scores["off_language_share"] == 0.5
    assert scores["failure_reasons"] == {"RuntimeError: out of memory": 1}
    # the failed and the empty example count 0 in the mean over all 4
    french = predictions[3]["rouge"]["rouge1"]
    assert scores["rouge"]["rouge1"] == pytest.approx((1.0 + french) / 4)
    assert scores["rouge"]["n"] == 4


def test_generation_health_counts_empty_and_cut_off_outputs():
    """6 of 10 outputs empty is not "0% failed": empty and max_new_tokens counts are apart."""
    full = dict(new_tokens=256, max_new_tokens_reached=True, reference_tokens=20)
    predictions = [
        check_and_score(record(None, "empty", reason="the model generated no text"))
        for _ in range(6)
    ]
    predictions += [
        check_and_score(record("Lyon is a river city of half a million people.") | full)
        for _ in range(3)
    ]
    short = record("Lyon is a river city.") | dict(new_tokens=7, reference_tokens=10)
    predictions.append(check_and_score(short))
    scores = cell_scores(predictions, "en", bootstrap_samples=50, seed=0)
    assert scores["failures"] == 0 and scores["failure_share"] == 0
    assert scores["empty"] == 6 and scores["empty_share"] == 0.6
    assert scores["max_new_tokens_reached"] == 3 and scores["max_new_tokens_share"] == 0.3
    # lengths: outputs over the 4 answered, references over those that recorded one
    assert scores["mean_output_tokens"] == pytest.approx((3 * 256 + 7) / 4)
    assert scores["mean_reference_tokens"] == pytest.approx((3 * 20 + 10) / 4)


def test_health_of_records_from_before_the_fields_existed():
    scores = cell_scores([check_and_score(record("Lyon."))], "en", bootstrap_samples=10, seed=0)
    assert scores["max_new_tokens_reached"] == 0 and scores["mean_reference_tokens"] is None
