"""Methods compared with each other, the overview, adjusted p-values, the n/a diagonal and
generation health, on planted sweeps whose per-article ROUGE is known: a prediction equal to
its reference scores 1, one sharing no word with it scores 0.

Two fine-tuned methods on en and fr, evaluated on novel and same-topic sets:
- base:  right on 2 of the 6 topics (ROUGE-L 1/3)
- full:  right on all 6 (1)
- lora:  right on 3 of 6 (1/2)
"""

import csv
import json

import numpy as np
import pytest

from babelsum.files import write_jsonl
from babelsum.metrics.adjust import holm
from babelsum.metrics.bootstrap import p_floor, paired_difference, relative_change
from babelsum.report import render_terminal
from babelsum.runner import run_task
from babelsum.sweep import load_sweep
from tests.stages.planted import SUMMARIES, TOPICS, mark, plant_evaluation, plant_judge

NOTHING = {"en": "Weather was fine today.", "fr": "Il pleut beaucoup."}
RIGHT = {"base": 2, "full": 6, "lora": 3}  # topics each model summarizes right
SAMPLES = 200


def outputs(lang: str, right: int) -> dict:
    return {
        (t, lang): (SUMMARIES if i < right else NOTHING)[lang].format(t=t)
        for i, t in enumerate(TOPICS)
    }


def scores(right: int) -> list[float]:
    return [1.0] * right + [0.0] * (len(TOPICS) - right)


def gather(folder, plan) -> dict:
    return run_task(folder.root, "gather", plan.stage("gather").tasks[0].index)


def evaluation_tasks(plan):
    return plan.stage("evaluate").tasks


@pytest.fixture
def two_methods(planted_sweep):
    def make(**evaluate):
        folder, plan = planted_sweep(
            train={
                "languages": ["en", "fr"],
                "methods": [
                    {"model": "tiny", "method": "full"},
                    {"model": "tiny", "method": "lora"},
                ],
            },
            evaluate={"test_sets": ["novel", "same_topic"], "bootstrap_samples": SAMPLES}
            | evaluate,
        )
        for task in evaluation_tasks(plan):
            p = task.params
            plant_evaluation(folder, task.key, outputs(p["eval_lang"], RIGHT[p["method"]]))
        gather(folder, plan)
        return folder, plan

    return make


def read_csv(path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


def test_comparisons_csv_pins_the_paired_difference(two_methods):
    folder, _ = two_methods()
    rows = read_csv(folder.output_dir("gather") / "comparisons.csv")
    # novel: 2 training x 2 evaluation languages; same topic: the 2 off-diagonal cells
    assert len(rows) == (4 + 2) * 4  # x 4 ROUGE variants
    assert {(r["method_a"], r["method_b"]) for r in rows} == {("full", "lora")}
    row = next(
        r
        for r in rows
        if (r["train_lang"], r["eval_lang"], r["test_set"], r["metric"])
        == ("en", "fr", "novel", "rougeL")
    )
    expected = paired_difference(scores(3), scores(6), samples=SAMPLES, seed=0)
    assert int(row["n"]) == 6 and row["seeds_a"] == row["seeds_b"] == "1"
    assert float(row["mean_a"]) == 1.0 and float(row["mean_b"]) == 0.5
    assert float(row["delta"]) == pytest.approx(0.5) == expected.delta
    assert float(row["delta_low"]) == pytest.approx(expected.low)
    assert float(row["delta_high"]) == pytest.approx(expected.high)
    assert float(row["p_value"]) == pytest.approx(expected.p_value)
    # Holm within the family (full vs lora, novel, ROUGE-L): 4 tests with the same p
    family = [
        float(r["p_value"]) for r in rows if r["test_set"] == "novel" and r["metric"] == "rougeL"
    ]
    assert len(family) == 4
    assert float(row["p_adjusted"]) == pytest.approx(holm(family)[1])
    assert float(row["p_adjusted"]) == pytest.approx(min(1.0, 4 * expected.p_value))


def test_benjamini_hochberg_is_a_config_choice(two_methods):
    folder, _ = two_methods(p_adjust="bh")
    rows = read_csv(folder.output_dir("gather") / "comparisons.csv")
    for r in rows:  # equal p-values in each family: BH leaves them as they are
        assert float(r["p_adjusted"]) == pytest.approx(float(r["p_value"]))
    report = (folder.output_dir("gather") / "report.md").read_text()
    assert "Benjamini-Hochberg (`evaluate.p_adjust: bh`)" in report


def test_difference_from_base_uses_adjusted_p_values_and_a_floor(two_methods):
    folder, _ = two_methods()
    cells = json.loads((folder.output_dir("gather") / "cells.json").read_text())
    full = [c for c in cells if c["method"] == "full" and c["test_set"] == "novel"]
    diffs = [c["difference"]["rougeL"] for c in full]
    assert [d["p_adjusted"] for d in diffs] == pytest.approx(holm([d["p_value"] for d in diffs]))
    for d in diffs:
        assert d["p_value"] >= p_floor(SAMPLES) and d["p_value"] > 0
    floored = [d for d in diffs if d["p_floor"]]
    assert floored and all(d["p_value"] == pytest.approx(1 / (SAMPLES + 1)) for d in floored)
    report = (folder.output_dir("gather") / "report.md").read_text()
    assert "p-values adjusted with Holm-Bonferroni (`evaluate.p_adjust: holm`)" in report
    assert "adjusted p < 0.02" in report  # a floored p times 4 tests, rounded up
    assert "p = 0.000" not in report and "p = 0\n" not in report


def test_relative_change_has_an_interval(two_methods):
    folder, _ = two_methods()
    cells = json.loads((folder.output_dir("gather") / "cells.json").read_text())
    cell = next(c for c in cells if c["key"] == "evaluate/tiny/full-en/en/novel")
    expected = relative_change([scores(2)], [scores(6)], samples=SAMPLES, seed=0)
    assert cell["relative"]["rougeL"] == pytest.approx(2.0) == expected.mean
    assert cell["relative_interval"]["rougeL"] == pytest.approx([expected.low, expected.high])
    row = next(
        r
        for r in read_csv(folder.output_dir("gather") / "cells.csv")
        if r["method"] == "full" and r["train_lang"] == r["eval_lang"] == "en"
    )
    assert float(row["rougeL_relative_low"]) == pytest.approx(expected.low)
    report = (folder.output_dir("gather") / "report.md").read_text()
    assert f"+200.0% [{expected.low:+.1%}, {expected.high:+.1%}]" in report


def test_overview_opens_the_report(two_methods):
    folder, _ = two_methods()
    report = (folder.output_dir("gather") / "report.md").read_text()
    overview = report.index("## Overview")
    assert overview < report.index("## Method comparisons") < report.index("## Setup")
    assert report.index("## Setup") < report.index("## tiny, full fine-tuning")
    # own language and same topics: full is always right, lora half the time; the
    # difference from base in the other languages is 1 - 1/3 and 1/2 - 1/3
    assert "| tiny | full | 1.000 [1.000, 1.000] | 1.000 [1.000, 1.000] | +0.667 [" in report
    assert "| tiny | lora | 0.500 [" in report and "| +0.167 [" in report
    assert "| tiny | base | 0.333 [" in report
    assert "mean over the model's off-diagonal same-topic cells" in report
    saved = json.loads((folder.output_dir("gather") / "overview.json").read_text())
    lora = next(r for r in saved if r["method"] == "lora")
    assert lora["values"]["same_topic"]["mean"] == pytest.approx(0.5)
    assert lora["values"]["same_topic"]["cells"] == lora["values"]["same_topic"]["expected"] == 2


def test_method_comparisons_in_the_report(two_methods):
    folder, _ = two_methods()
    report = (folder.output_dir("gather") / "report.md").read_text()
    section = report[report.index("## Method comparisons") : report.index("## Setup")]
    assert "### tiny full minus tiny lora" in section
    assert "+0.500 [" in section
    assert "tiny full scores higher in" in section


def test_the_same_topic_diagonal_is_not_applicable_not_missing(two_methods):
    folder, _ = two_methods()
    out = folder.output_dir("gather")
    report = (out / "report.md").read_text()
    assert "16 of 16 evaluation cells finished" in report
    coverage = report.split("## Coverage")[1].split("##")[0]
    assert "| cell | state | reason |" not in coverage and "(n/a, not missing)" in coverage
    same = report[report.index("### Same topics") :]
    assert "| en | n/a |" in same and "| fr | 1.000 [1.000, 1.000] | n/a |" in same
    assert "Y-language articles whose topic is in the training language's train split" in report
    assert "a same-topic article in the training language would be the training article" in same
    table = read_csv(out / "cells.csv")
    diagonal = [r for r in table if r["test_set"] == "same_topic" and r["state"] == "n/a"]
    assert {(r["method"], r["train_lang"], r["eval_lang"]) for r in diagonal} == {
        (m, lang, lang) for m in ("full", "lora") for lang in ("en", "fr")
    }
    assert all("training article itself" in r["reason"] for r in diagonal)
    with open(out / "matrices/tiny/full/same_topic/rougeL.csv") as f:
        by_row = {r[0]: r[1:] for r in list(csv.reader(f))[1:]}
    assert by_row["en"][0] == "" and by_row["fr"][1] == ""


def test_launch_report_shows_the_overview(two_methods):
    folder, _ = two_methods()
    text = render_terminal(*load_sweep(folder.root))
    assert "== overview" in text
    assert "own language, novel" in text
    lines = [line.split() for line in text.splitlines()]
    assert ["tiny", "lora", "0.500"] == next(x for x in lines if x[:2] == ["tiny", "lora"])[:3]


def test_launch_report_shows_the_overview_before_gather(planted_sweep):
    folder, plan = planted_sweep()
    for task in evaluation_tasks(plan):
        p = task.params
        right = RIGHT["base" if p["method"] == "base" else "full"]
        plant_evaluation(folder, task.key, outputs(p["eval_lang"], right))
    text = render_terminal(*load_sweep(folder.root))
    assert "live: gather has not run yet" in text and "== overview" in text


def test_the_judge_is_compared_between_methods(planted_sweep):
    folder, plan = planted_sweep(
        train={
            "languages": ["en", "fr"],
            "methods": [{"model": "tiny", "method": "full"}, {"model": "tiny", "method": "lora"}],
        },
        evaluate={"test_sets": ["novel"], "bootstrap_samples": SAMPLES, "judge": {"model": "tiny"}},
    )
    for task in evaluation_tasks(plan):
        p = task.params
        plant_evaluation(folder, task.key, outputs(p["eval_lang"], RIGHT[p["method"]]))
    tuned = {"full": 4.0, "lora": 3.0}
    for task in plan.stage("judge").tasks:
        p = task.params
        plant_judge(folder, task.key, {"n": 6, "judged": 6, "missing": 0, "delta": 1.0})
        records = [
            {
                "article_id": f"topic-{t.lower()}",
                "language": p["eval_lang"],
                "status": "ok",
                "base_score": 2.0,
                "tuned_score": tuned[p["method"]],
            }
            for t in TOPICS
        ]
        write_jsonl(folder.output_dir(task.key) / "judgments.jsonl", records)
    gather(folder, plan)
    rows = read_csv(folder.output_dir("gather") / "comparisons.csv")
    judge = [r for r in rows if r["metric"] == "judge"]
    assert len(judge) == 4
    assert all(float(r["delta"]) == 1.0 and int(r["n"]) == 6 for r in judge)
    report = (folder.output_dir("gather") / "report.md").read_text()
    assert "judge (0-5), own language, novel topics" in report
    assert "| tiny | full | 1.000 [1.000, 1.000] | +0.667 [" in report
    assert "| 4.000 [4.000, 4.000] |" in report
    # the base model's row: its summaries as the judge scored them, as in the study
    saved = json.loads((folder.output_dir("gather") / "overview.json").read_text())
    base = next(r for r in saved if r["method"] == "base")
    assert base["values"]["judge"]["mean"] == pytest.approx(2.0)


def test_generation_health_is_shown_and_flagged(planted_sweep):
    """4 of 6 empty outputs is not "0% failed"; 2 of 6 cut off at max_new_tokens is flagged
    above the threshold (0.2)."""
    folder, plan = planted_sweep()
    for task in evaluation_tasks(plan):
        p = task.params
        lang, key = p["eval_lang"], task.key
        texts = outputs(lang, RIGHT["full"])
        if key == "evaluate/tiny/full-en/en/novel":
            texts |= {(t, lang): "" for t in TOPICS[:4]}
        plant_evaluation(folder, key, texts, hit_limit=tuple(TOPICS[:2]) if lang == "fr" else ())
    mark(folder, "evaluate/tiny/full-en/fr/novel", "failed", "RuntimeError: planted")
    gather(folder, plan)
    out = folder.output_dir("gather")
    row = next(r for r in read_csv(out / "cells.csv") if r["method"] == "full" and r["n"])
    assert (row["train_lang"], row["eval_lang"]) == ("en", "en")
    assert row["failures"] == "0" and row["empty"] == "4"
    assert float(row["empty_share"]) == pytest.approx(4 / 6)
    report = (out / "report.md").read_text()
    assert "en>en novel: 67% empty" in report
    assert "fr>fr novel: 33% hit max_new_tokens" in report
    assert "| en > en | 6 | 0 (0%) | 4 (67%) ⚠ | 0 (0%) |" in report
    assert "| fr > fr | 6 | 0 (0%) | 0 (0%) | 2 (33%) ⚠ |" in report
    text = render_terminal(*load_sweep(folder.root))
    assert "empty outputs:" in text and "67%" in text


@pytest.fixture
def two_seeds(planted_sweep):
    """Seeds 0 and 1 of one method: seed 0 right on 5 of 6 topics, seed 1 on 2; base on 1."""
    folder, plan = planted_sweep(
        train={
            "languages": ["en", "fr"],
            "methods": [{"model": "tiny", "method": "full"}],
            "seeds": [0, 1],
        },
        evaluate={"test_sets": ["novel", "same_topic"], "bootstrap_samples": 1000},
    )
    right = {None: 1, 0: 5, 1: 2}
    for task in evaluation_tasks(plan):
        p = task.params
        plant_evaluation(folder, task.key, outputs(p["eval_lang"], right[p.get("seed")]))
    gather(folder, plan)
    return folder, plan


def test_several_seeds_are_planned_and_reported_as_their_mean(two_seeds):
    folder, plan = two_seeds
    assert [t.key for t in plan.stage("train").tasks] == [
        "train/tiny/full/en/seed0",
        "train/tiny/full/en/seed1",
        "train/tiny/full/fr/seed0",
        "train/tiny/full/fr/seed1",
    ]
    out = folder.output_dir("gather")
    rows = [
        r
        for r in read_csv(out / "cells.csv")
        if (r["method"], r["train_lang"], r["eval_lang"], r["test_set"])
        == ("full", "en", "en", "novel")
    ]
    assert [r["seed"] for r in rows] == ["0", "1", "mean"]
    seed0, seed1, mean = rows
    assert mean["seeds"] == "0 1" and mean["state"] == "done"
    assert float(mean["rougeL"]) == pytest.approx((5 / 6 + 2 / 6) / 2)
    assert float(mean["rougeL_seed_sd"]) == pytest.approx(np.std([5 / 6, 2 / 6], ddof=1))
    assert float(mean["rougeL_delta"]) == pytest.approx((5 / 6 + 2 / 6) / 2 - 1 / 6)
    width = float(mean["rougeL_high"]) - float(mean["rougeL_low"])
    for one in (seed0, seed1):
        assert width > float(one["rougeL_high"]) - float(one["rougeL_low"])
    # matrices and the overview show the mean
    with open(out / "matrices/tiny/full/novel/rougeL.csv") as f:
        by_row = {r[0]: r[1:] for r in list(csv.reader(f))[1:]}
    assert float(by_row["en"][0]) == pytest.approx(float(mean["rougeL"]))
    report = (out / "report.md").read_text()
    assert "Training seeds: 0, 1" in report and "resamples the seeds" in report
    assert "Between-seed standard deviation" in report
    assert f"| tiny | full | {float(mean['rougeL']):.3f} [" in report
    assert "16 of 16 evaluation cells finished" in report  # 4 base + 2 seeds x 6


def test_a_missing_seed_leaves_the_mean_of_the_others(planted_sweep):
    folder, plan = planted_sweep(
        train={
            "languages": ["en", "fr"],
            "methods": [{"model": "tiny", "method": "full"}],
            "seeds": [0, 1],
        },
    )
    for task in evaluation_tasks(plan):
        p = task.params
        plant_evaluation(folder, task.key, outputs(p["eval_lang"], 5 if p.get("seed") else 1))
    mark(folder, "evaluate/tiny/full-en-seed1/en/novel", "failed", "RuntimeError: planted")
    gather(folder, plan)
    cells = json.loads((folder.output_dir("gather") / "cells.json").read_text())
    mean = next(c for c in cells if c["key"] == "evaluate/tiny/full-en/en/novel")
    assert mean["seed"] == "mean" and mean["seeds"] == [0] and mean["state"] == "done"
    assert mean["reason"].startswith("1 of 2 seeds finished; seed 1: failed")
    assert mean["scores"]["rougeL"]["mean"] == pytest.approx(1 / 6)


def test_setup_lists_each_models_budgets_and_decoding(planted_sweep, tmp_path):
    """Issue 13: epochs, input budgets and decoding differ between models and confound the
    comparison; the setup section shows them, and the statistics used."""
    folder, plan = planted_sweep(
        models={
            "tiny": {"path": str(tmp_path / "no-model"), "family": "qwen2"},
            "seq": {
                "path": str(tmp_path / "no-mbart"),
                "family": "mbart",
                "chat": False,
                "decoding": {"num_beams": 4},
            },
        },  # fmt: skip
        train={
            "languages": ["en", "fr"],
            "methods": [
                {"model": "tiny", "method": "full", "epochs": 3},
                {"model": "seq", "method": "seq2seq", "max_input_tokens": 1024, "max_steps": 50},
            ],
        },
    )
    for task in evaluation_tasks(plan):
        p = task.params
        plant_evaluation(folder, task.key, outputs(p["eval_lang"], 3))
        if p["model"] == "seq":  # what the evaluate stage records for mBART
            path = folder.output_dir(task.key) / "scores.json"
            path.write_text(json.dumps(json.loads(path.read_text()) | {"input_budget": 1024}))
    gather(folder, plan)
    report = (folder.output_dir("gather") / "report.md").read_text()
    setup = report[report.index("## Setup") : report.index("## Coverage")]
    assert "| tiny | full | 3 | — | 4096 | at most 4096 | 256 | greedy | 0 |" in setup
    assert (
        "| seq | seq2seq | 1 | 50 | 1024 | 1024 (the model's limit) | 256 | "
        "beam search, num_beams 4 | 0 |"
    ) in setup
    assert "| seq | base | — | — | — | 1024 (the model's limit) |" in setup
    assert "200 resamples" in setup and "Holm-Bonferroni" in setup
    assert "below 0.05 (`evaluate.relative_floor`)" in setup
    assert "One training run per model, method and language" in setup
