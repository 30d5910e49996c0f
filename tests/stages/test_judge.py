"""The judge stage through the real runner: a real tiny judge model, planted evaluations.

The tiny model's weights are random, so its answers are never the JSON asked for: every
article must end up *missing* with the reason, after the retries, and never scored 0.
The evaluation cells it reads are planted with the evaluate stage's own scoring code.
"""

import json

import pytest

from babelsum.runner import run_task
from tests.stages.planted import SUMMARIES, TOPICS, plant_evaluation

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TUNED = "evaluate/qwen2/full-en/fr/novel"
BASE = "evaluate/qwen2/base/fr/novel"
JUDGE = "judge/qwen2/full-en/fr/novel"


def test_unparsable_judge_answers_are_missing_never_zero(eval_sweep):
    folder = eval_sweep(
        evaluate={
            "test_sets": ["novel"],
            "bootstrap_samples": 50,
            "judge": {"model": "qwen2", "retries": 1, "max_new_tokens": 12, "max_articles": 3},
        }
    )
    tuned = {(t, "fr"): SUMMARIES["fr"].format(t=t) for t in TOPICS}
    tuned[(TOPICS[1], "fr")] = None  # a failed generation: not judged at all
    plant_evaluation(folder, TUNED, tuned)
    plant_evaluation(folder, BASE, {(t, "fr"): "Une ville." for t in TOPICS})
    plan = json.loads(folder.plan_path.read_text())
    index = next(
        t["index"]
        for s in plan["stages"]
        if s["name"] == "judge"
        for t in s["tasks"]
        if t["key"] == JUDGE
    )

    summary = run_task(folder.root, "judge", index)

    out = folder.output_dir(JUDGE)
    records = [json.loads(line) for line in (out / "judgments.jsonl").open()]
    assert len(records) == 3  # max_articles
    assert all(r["status"] == "missing" for r in records)
    failed = records[1]
    assert failed["reason"].startswith("the fine-tuned generation failed: RuntimeError")
    assert "readings" not in failed  # nothing was asked
    for record in (records[0], records[2]):
        assert record["base_score"] is None and record["tuned_score"] is None
        assert record["reason"].startswith("no usable judge answer")
        assert [r["order"] for r in record["readings"]] == ["base_first", "tuned_first"]
        for reading in record["readings"]:
            assert len(reading["answers"]) == 2  # the first answer and one retry
            assert reading["problem"]
    scores = json.loads((out / "scores.json").read_text())
    assert (scores["n"], scores["judged"], scores["missing"]) == (3, 0, 3)
    assert scores["base_mean"] is None and scores["tuned_mean"] is None and scores["delta"] is None
    assert scores["missing_reasons"] == {
        "no usable judge answer": 2,
        "the fine-tuned generation failed": 1,
    }
    assert summary["judged"] == 0


def test_judged_articles_give_means_wins_and_the_position_bias(eval_sweep, monkeypatch):
    """The judge model is replaced at its edge (`open_judge`) by a function that prefers
    longer summaries and adds one point to whatever it is shown first."""
    from tests.metrics.test_judge import scoring_judge

    folder = eval_sweep(
        evaluate={"test_sets": ["novel"], "bootstrap_samples": 50, "judge": {"model": "qwen2"}}
    )
    plant_evaluation(
        folder, TUNED, {(t, "fr"): "un deux trois quatre cinq six sept" for t in TOPICS}
    )
    plant_evaluation(folder, BASE, {(t, "fr"): "un deux" for t in TOPICS})
    monkeypatch.setattr(
        "babelsum.stages.judge.open_judge",
        lambda spec, settings: (scoring_judge(bias_for_a=1), lambda text: text),
    )
    plan = json.loads(folder.plan_path.read_text())
    index = next(
        t["index"]
        for s in plan["stages"]
        if s["name"] == "judge"
        for t in s["tasks"]
        if t["key"] == JUDGE
    )
    run_task(folder.root, "judge", index)

    out = folder.output_dir(JUDGE)
    records = [json.loads(line) for line in (out / "judgments.jsonl").open()]
    assert all(r["status"] == "ok" and r["winner"] == "tuned" for r in records)
    # base 2 words (+1 when first), tuned capped at 5: means 2.5 and 5
    assert records[0]["base_score"] == 2.5 and records[0]["tuned_score"] == 5.0
    scores = json.loads((out / "scores.json").read_text())
    assert (scores["judged"], scores["missing"], scores["wins"]) == (len(TOPICS), 0, len(TOPICS))
    assert scores["delta"] == pytest.approx(2.5)
    assert scores["delta_low"] == scores["delta_high"] == pytest.approx(2.5)
    # shown first minus shown second: base first 3 - 5, tuned first 5 (capped) - 2
    assert scores["first_position_advantage"] == pytest.approx(((3 - 5) + (5 - 2)) / 2)
    # what the base model's own judge score is pooled from (metrics.judge.base_model_scores)
    assert scores["base_predictions"] == BASE
    assert scores["base_scores"] == [
        {"article_id": r["article_id"], "language": "fr", "score": 2.5} for r in records
    ]
    assert scores["max_input_tokens"] == 4096  # evaluate's default budget


def test_the_judge_reads_the_summarizers_article_budget_unless_told(tiny_models):
    from babelsum.config import ModelSpec, validate_config
    from babelsum.models.loading import load_tokenizer
    from babelsum.stages.judge import open_judge

    base = {
        "study": "judge-budget",
        "languages": ["en"],
        "models": {"q": {"path": str(tiny_models["qwen2"])}},
        "train": {"languages": ["en"], "methods": [{"model": "q", "method": "full"}]},
    }

    def judge(**evaluate):
        return validate_config(
            base | {"evaluate": {"test_sets": ["novel"], **evaluate}}
        ).evaluate.judge

    assert judge(judge={"model": "q"}).max_input_tokens == 4096  # no longer 3,072
    follows = judge(max_input_tokens=40, judge={"model": "q"})
    assert follows.max_input_tokens == 40
    assert (
        judge(max_input_tokens=40, judge={"model": "q", "max_input_tokens": 30}).max_input_tokens
        == 30
    )

    # the judge cuts the article there, in its own tokens
    spec = ModelSpec(path=str(tiny_models["qwen2"]))
    _, cut_article = open_judge(spec, follows)
    kept = cut_article("Lyon est une ville de France. " * 100)
    assert kept.endswith(" [...]")
    tokens = load_tokenizer(spec)(kept.removesuffix(" [...]"), add_special_tokens=False)
    assert 35 <= len(tokens["input_ids"]) <= 40
