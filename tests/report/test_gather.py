"""Gather on a hand-built sweep folder with planted finished, failed and blocked cells.

The evaluation outputs are written by the evaluate stage's own scoring code (no model runs);
gather itself runs through the real runner.
"""

import csv
import json

import pytest

from babelsum.cli import main
from babelsum.report import render_terminal
from babelsum.runner import run_task
from babelsum.sweep import load_sweep
from tests.stages.planted import TOPICS, mark, plant_evaluation, plant_judge

GOOD = {
    "en": "{t} is a river city of half a million people living from trade.",
    "fr": "{t} est une ville fluviale d'un demi-million d'habitants.",
}
POOR = {"en": "A city with a river.", "fr": "Une ville."}
NOTHING = {"en": "Weather was fine today.", "fr": "Il pleut beaucoup."}

FAILED = "evaluate/tiny/full-en/fr/novel"
BLOCKED = "evaluate/tiny/full-fr/en/novel"


def outputs(lang: str, texts: dict, fail_first: bool = False) -> dict:
    out = {(t, lang): texts[lang].format(t=t) for t in TOPICS}
    if fail_first:
        out[(TOPICS[0], lang)] = None
    return out


@pytest.fixture
def gathered(planted_sweep):
    """A sweep: base good-ish in en, near zero in fr; full-en better in en, its fr cell failed;
    full-fr blocked in en, fine in fr (relative change undefined: base below the floor)."""
    folder, plan = planted_sweep(
        evaluate={
            "test_sets": ["novel"],
            "bootstrap_samples": 200,
            "relative_floor": 0.05,
            "judge": {"model": "tiny"},
        }
    )
    plant_evaluation(folder, "evaluate/tiny/base/en/novel", outputs("en", POOR))
    plant_evaluation(folder, "evaluate/tiny/base/fr/novel", outputs("fr", NOTHING))
    plant_evaluation(folder, "evaluate/tiny/full-en/en/novel", outputs("en", GOOD, True))
    mark(folder, FAILED, "failed", "RuntimeError: CUDA out of memory. Tried to allocate 2 GiB")
    mark(folder, BLOCKED, "blocked", "upstream not done: train/tiny/full/fr")
    plant_evaluation(folder, "evaluate/tiny/full-fr/fr/novel", outputs("fr", GOOD))
    plant_judge(
        folder,
        "judge/tiny/full-en/en/novel",
        {
            "n": 6,
            "judged": 4,
            "missing": 2,
            "missing_reasons": {"no usable judge answer": 2},
            "base_mean": 2.0,
            "base_low": 1.5,
            "base_high": 2.5,
            "tuned_mean": 3.5,
            "tuned_low": 3.0,
            "tuned_high": 4.0,
            "delta": 1.5,
            "delta_low": 1.0,
            "delta_high": 2.0,
            "delta_p_value": 0.0,
            "wins": 3,
            "ties": 1,
            "losses": 0,
            "first_position_advantage": 0.25,
        },
    )
    # the other judge tasks never ran: their evaluation is missing
    mark(folder, "judge/tiny/full-fr/en/novel", "blocked", f"upstream not done: {BLOCKED}")
    index = plan.stage("gather").tasks[0].index
    summary = run_task(folder.root, "gather", index)
    return folder, summary


def cells_by_key(folder):
    return {
        c["key"]: c for c in json.loads((folder.output_dir("gather") / "cells.json").read_text())
    }


def test_gather_counts_finished_and_missing_cells(gathered):
    folder, summary = gathered
    assert summary["cells"] == 6 and summary["finished"] == 4 and summary["missing"] == 2
    cells = cells_by_key(folder)
    assert cells[FAILED]["state"] == "failed"
    assert cells[FAILED]["reason"].startswith("RuntimeError: CUDA out of memory")
    assert cells[BLOCKED]["state"] == "blocked"


def test_difference_from_base_is_paired_with_an_interval(gathered):
    folder, _ = gathered
    cell = cells_by_key(folder)["evaluate/tiny/full-en/en/novel"]
    diff = cell["difference"]["rougeL"]
    # the failed article scores 0, pulling the mean down, but the rest are far better
    assert cell["failures"] == 1 and cell["n"] == 6
    assert diff["n"] == 6
    assert diff["delta"] == pytest.approx(
        cell["scores"]["rougeL"]["mean"]
        - cells_by_key(folder)["evaluate/tiny/base/en/novel"]["scores"]["rougeL"]["mean"]
    )
    assert diff["low"] <= diff["delta"] <= diff["high"]
    assert cell["relative"]["rougeL"] == pytest.approx(
        diff["delta"]
        / cells_by_key(folder)["evaluate/tiny/base/en/novel"]["scores"]["rougeL"]["mean"]
    )


def test_relative_change_over_a_near_zero_base_is_undefined(gathered):
    folder, _ = gathered
    cell = cells_by_key(folder)["evaluate/tiny/full-fr/fr/novel"]
    assert cell["difference"]["rougeL"]["delta"] > 0
    assert cell["relative"]["rougeL"] is None
    assert cell["relative_note"]["rougeL"].startswith("undefined: base 0.000 is below the floor")


def test_matrices_csv_have_holes_where_cells_are_missing(gathered):
    folder, _ = gathered
    out = folder.output_dir("gather")
    with open(out / "matrices/tiny/full/novel/rougeL.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["train_lang \\ eval_lang", "en", "fr"]
    assert [r[0] for r in rows[1:]] == ["base", "en", "fr"]
    by_row = {r[0]: r[1:] for r in rows[1:]}
    assert by_row["en"][1] == "" and by_row["fr"][0] == ""  # failed, blocked
    assert all(v != "" for v in by_row["base"])
    with open(out / "cells.csv") as f:
        table = list(csv.DictReader(f))
    assert len(table) == 6
    failed = next(r for r in table if r["train_lang"] == "en" and r["eval_lang"] == "fr")
    assert failed["state"] == "failed" and failed["rougeL"] == ""


def test_report_reads_like_results_and_hides_nothing(gathered):
    folder, _ = gathered
    out = folder.output_dir("gather")
    report = (out / "report.md").read_text()
    assert "# Results: gather-test" in report
    assert "4 of 6 evaluation cells finished" in report
    assert f"`{FAILED}` | failed | RuntimeError: CUDA out of memory" in report
    assert f"`{BLOCKED}` | blocked | upstream not done: train/tiny/full/fr" in report
    assert "missing (failed)" in report and "missing (blocked)" in report
    assert "undefined" in report and "below 0.05" in report
    assert "n = 6" in report
    assert "Of 6 article pairs, 4 were judged in both orders" in report
    assert "won 3, tied 1 and lost 0" in report
    assert "missing (pending)" in report  # the judge of full-fr/fr never ran
    assert "Tokenizers: en: rouge-score default + Porter stemmer" in report
    for image in ("rougeL", "rouge1", "judge"):
        assert (out / f"heatmaps/tiny/full/novel_{image}.png").stat().st_size > 1000
    assert "](heatmaps/tiny/full/novel_rougeL.png)" in report


def test_launch_report_prints_the_matrices(gathered, capsys):
    folder, _ = gathered
    text = render_terminal(*load_sweep(folder.root))
    assert "4 of 6 evaluation cells finished" in text
    assert "ROUGE-L:" in text and "difference from base" in text
    assert "missing (failed)" in text
    assert f"{FAILED}: failed: RuntimeError" in text
    assert main(["report", str(folder.root)]) == 0
    assert "ROUGE-L:" in capsys.readouterr().out


def test_launch_report_works_before_gather_ran(planted_sweep):
    folder, _ = planted_sweep()
    plant_evaluation(folder, "evaluate/tiny/base/en/novel", outputs("en", POOR))
    text = render_terminal(*load_sweep(folder.root))
    assert "live: gather has not run yet" in text
    assert "1 of 6 evaluation cells finished" in text
    assert "not run yet" in text


def test_gather_of_a_sweep_where_nothing_finished(planted_sweep):
    folder, plan = planted_sweep()
    summary = run_task(folder.root, "gather", plan.stage("gather").tasks[0].index)
    assert summary["finished"] == 0 and summary["missing"] == 6
    report = (folder.output_dir("gather") / "report.md").read_text()
    assert "0 of 6 evaluation cells finished" in report
    assert "No finished cell to compare" in report
    assert "no cell has finished yet" in report
