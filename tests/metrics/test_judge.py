"""The judge's answer parsing, retries and A/B order swap.

The judge model is replaced by small functions from conversations to answers: this is the
model edge (a real tiny model cannot be made to answer JSON on purpose). The judge stage test
runs a real tiny model end to end.
"""

import json

import pytest

from babelsum.metrics.judge import (
    Verdict,
    VerdictError,
    base_model_scores,
    judge_articles,
    judge_messages,
    parse_verdict,
)


def answer(a: int, b: int) -> str:
    return json.dumps(
        {
            "summary_a": {"rationale": "ok", "score": a},
            "summary_b": {"rationale": "meh", "score": b},
        }
    )


def test_parse_a_clean_answer():
    assert parse_verdict(answer(4, 2)) == Verdict(4, 2, "ok", "meh")


def test_parse_an_answer_wrapped_in_prose_and_a_fence():
    text = "Sure! Here is my evaluation:\n```json\n" + answer(5, 0) + "\n```\nHope it helps."
    assert parse_verdict(text).score_a == 5


def test_integral_floats_are_scores():
    text = '{"summary_a": {"score": 3.0}, "summary_b": {"score": 1}}'
    assert (parse_verdict(text).score_a, parse_verdict(text).score_b) == (3, 1)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        (None, "empty"),
        ("I think A is better.", "no JSON object"),
        ('{"summary_a": {"score": 4}}', 'no object "summary_b"'),
        ('{"summary_a": {"score": 7}, "summary_b": {"score": 1}}', "outside 0-5"),
        ('{"summary_a": {"score": -1}, "summary_b": {"score": 1}}', "outside 0-5"),
        ('{"summary_a": {"score": 3.5}, "summary_b": {"score": 1}}', "integer"),
        ('{"summary_a": {"score": "4"}, "summary_b": {"score": 1}}', "integer"),
        ('{"summary_a": {"score": true}, "summary_b": {"score": 1}}', "integer"),
        ('{"summary_a": {"score": NaN}, "summary_b": {"score": 1}}', "integer"),
        ('{"summary_a": {"score": 4}, "summary_b": {"score": 1}', "no JSON object"),
    ],
)
def test_unusable_answers_say_why(text, problem):
    with pytest.raises(VerdictError, match=problem):
        parse_verdict(text)


def summaries_in(conversation) -> tuple[str, str]:
    """The two summaries as the judge sees them, A then B."""
    user = next(m["content"] for m in conversation if m["role"] == "user")
    a = user.split("Summary A:\n", 1)[1].split("\n\nSummary B:\n", 1)[0]
    b = user.split("Summary B:\n", 1)[1]
    return a, b


def scoring_judge(bias_for_a: int = 0):
    """A judge that scores by summary length and favours position A by `bias_for_a`."""

    def ask(conversations):
        out = []
        for conversation in conversations:
            a, b = summaries_in(conversation)
            out.append(answer(min(5, len(a.split()) + bias_for_a), min(5, len(b.split()))))
        return out

    return ask


def test_each_article_is_judged_in_both_orders():
    seen = []

    def ask(conversations):
        seen.extend(summaries_in(c) for c in conversations)
        return [answer(3, 3)] * len(conversations)

    judge_articles(ask, [("article", "base text", "tuned text", "fr")], retries=0)
    assert seen == [("base text", "tuned text"), ("tuned text", "base text")]


def test_order_swap_cancels_a_position_bias():
    items = [("article", "one two", "one two three four", "en")]
    [judgment] = judge_articles(scoring_judge(bias_for_a=1), items, retries=0)
    # base_first: base 2+1=3, tuned 4; tuned_first: tuned 4+1=5, base 2
    assert judgment.base_score == pytest.approx(2.5)
    assert judgment.tuned_score == pytest.approx(4.5)
    assert judgment.winner == "tuned"


def test_identical_summaries_tie_despite_a_position_bias():
    [judgment] = judge_articles(
        scoring_judge(bias_for_a=1), [("article", "same words", "same words", "de")], retries=0
    )
    assert judgment.base_score == judgment.tuned_score
    assert judgment.winner == "tie"


def test_an_inconsistent_preference_is_a_tie():
    answers = iter([answer(5, 1), answer(5, 1)])  # always prefers A, whoever A is
    [judgment] = judge_articles(
        lambda cs: [next(answers) for _ in cs], [("a", "x", "y", "en")], retries=0
    )
    assert judgment.winner == "tie"
    assert judgment.base_score == judgment.tuned_score == 3.0


def test_an_unparsable_answer_is_retried_with_a_correction():
    calls = []

    def ask(conversations):
        calls.append(conversations)
        if len(calls) == 1:
            return ["not json", answer(2, 4)]
        return [answer(4, 2)]

    [judgment] = judge_articles(ask, [("article", "b", "t", "en")], retries=1)
    assert len(calls) == 2 and len(calls[1]) == 1  # only the failed reading is asked again
    retry = calls[1][0]
    assert retry[-2] == {"role": "assistant", "content": "not json"}
    assert "could not be used: no JSON object" in retry[-1]["content"]
    assert judgment.complete
    assert judgment.readings[0].answers == ["not json", answer(4, 2)]


def test_never_parsable_is_missing_not_zero():
    [judgment] = judge_articles(
        lambda cs: ["no idea"] * len(cs), [("article", "b", "t", "en")], retries=2
    )
    assert not judgment.complete
    assert judgment.base_score is None and judgment.tuned_score is None
    assert judgment.winner is None
    assert len(judgment.readings[0].answers) == 3  # first try and two retries
    assert "no JSON object" in judgment.reason


def test_a_failed_generation_is_missing():
    [judgment] = judge_articles(lambda cs: [None] * len(cs), [("a", "b", "t", "ja")], retries=0)
    assert not judgment.complete and "empty" in judgment.reason


def test_the_prompt_names_the_language_and_marks_empty_summaries():
    messages = judge_messages("Der Artikel.", "", "Eine Zusammenfassung.", "de")
    user = messages[-1]["content"]
    assert "written in German" in user
    assert "Summary A:\n(empty)" in user
    assert '"summary_a": {"rationale": "...", "score": 0}' in user


def test_the_base_models_own_score_pools_the_judge_tasks_that_share_its_base_cell():
    """Two fine-tuned models judged against the same base predictions: an article's base
    score is its mean over the two judge tasks; another base cell stays apart."""
    base_fr = "evaluate/qwen/base/fr/novel"

    def task(cell, scores):
        return {
            "base_predictions": cell,
            "base_scores": [
                {"article_id": a, "language": "fr", "score": v} for a, v in scores.items()
            ],
        }

    pooled = base_model_scores(
        [
            task(base_fr, {"q1": 2.0, "q2": 4.0}),
            task(base_fr, {"q1": 3.0}),  # q2 missing in this task: judged once
            task("evaluate/qwen/base/de/novel", {}),  # nothing judged
            {"n": 3},  # scores.json from before these fields: left out
        ],
        samples=200,
    )
    assert pooled[base_fr]["n"] == 2 and pooled[base_fr]["judge_tasks"] == 2
    assert pooled[base_fr]["mean"] == pytest.approx((2.5 + 4.0) / 2)
    assert pooled[base_fr]["low"] <= pooled[base_fr]["mean"] <= pooled[base_fr]["high"]
    assert pooled["evaluate/qwen/base/de/novel"] == {
        "n": 0,
        "judge_tasks": 1,
        "mean": None,
        "low": None,
        "high": None,
    }
    assert len(pooled) == 2
