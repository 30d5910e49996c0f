"""babelsum.results: a sweep's cells (and comparisons) as pandas DataFrames, for a notebook.

The sweep is built by babelsum, its evaluation outputs planted by the evaluate stage's own
scoring code (tests/stages/planted.py), and gather runs through the real runner.
"""

import csv
import math

import pytest

from babelsum import results
from babelsum.errors import SweepError, UserError
from babelsum.runner import run_task
from tests.stages.planted import TOPICS, mark, plant_evaluation

GOOD = {
    "en": "{t} is a river city of half a million people living from trade.",
    "fr": "{t} est une ville fluviale d'un demi-million d'habitants.",
}
POOR = {"en": "A city with a river.", "fr": "Une ville."}
FAILED = "evaluate/tiny/full-en/fr/novel"


def outputs(lang: str, texts: dict) -> dict:
    return {(t, lang): texts[lang].format(t=t) for t in TOPICS}


@pytest.fixture
def planted(planted_sweep):
    """A sweep with 5 of its 6 evaluation cells finished and one failed; gather not run."""
    folder, plan = planted_sweep()
    plant_evaluation(folder, "evaluate/tiny/base/en/novel", outputs("en", POOR))
    plant_evaluation(folder, "evaluate/tiny/base/fr/novel", outputs("fr", POOR))
    plant_evaluation(folder, "evaluate/tiny/full-en/en/novel", outputs("en", GOOD))
    mark(folder, FAILED, "failed", "RuntimeError: CUDA out of memory")
    plant_evaluation(folder, "evaluate/tiny/full-fr/en/novel", outputs("en", POOR))
    plant_evaluation(folder, "evaluate/tiny/full-fr/fr/novel", outputs("fr", GOOD))
    return folder, plan


@pytest.fixture
def gathered(planted):
    folder, plan = planted
    run_task(folder.root, "gather", plan.stage("gather").tasks[0].index)
    return folder


def test_load_gives_one_row_per_cell_with_gathers_numbers(gathered):
    cells = results.load(gathered.root)
    assert cells.attrs["source"] == str(gathered.output_dir("gather") / "cells.json")
    assert len(cells) == 6
    for column in (
        "model", "method", "train_lang", "eval_lang", "test_set", "state", "n", "failures",
        "empty", "rougeL", "rougeL_low", "rougeL_high", "rougeL_delta", "rougeL_delta_low",
        "rougeL_delta_high", "rougeL_relative", "judge_tuned", "key",
    ):  # fmt: skip
        assert column in cells.columns
    row = cells.set_index("key").loc["evaluate/tiny/full-en/en/novel"]
    assert row["state"] == "done" and row["n"] == len(TOPICS) and row["train_lang"] == "en"
    assert row["rougeL_delta_low"] <= row["rougeL_delta"] <= row["rougeL_delta_high"]
    assert row["rougeL_delta"] > 0  # GOOD against POOR
    failed = cells.set_index("key").loc[FAILED]
    assert failed["state"] == "failed" and failed["reason"].startswith("RuntimeError: CUDA")
    assert math.isnan(failed["rougeL"])
    # numbers are floats with NaN where missing, even in a column missing everywhere (no judge)
    for column in ("rougeL", "rougeL_delta", "rougeL_relative", "judge_tuned"):
        assert cells[column].dtype == "float64"
    # the same numbers as gather's cells.csv, row by row
    with open(gathered.output_dir("gather") / "cells.csv", newline="") as f:
        written = list(csv.DictReader(f))
    assert [r["eval_lang"] for r in written] == list(cells["eval_lang"])
    for r, (_, frame_row) in zip(written, cells.iterrows(), strict=True):
        if r["rougeL"]:
            assert float(r["rougeL"]) == pytest.approx(frame_row["rougeL"])
            assert r["state"] == frame_row["state"]


def test_the_readme_notebook_example_runs(gathered):
    sweep_dir = str(gathered.root)
    # README.md, "From a notebook":
    from babelsum import results

    cells = results.load(sweep_dir)
    table = cells.pivot_table(
        index=["model", "method", "train_lang"], columns="eval_lang", values="rougeL"
    )
    assert list(table.columns) == ["en", "fr"]
    full_en = table.loc[("tiny", "full", "en")]
    assert full_en["en"] > table.loc[("tiny", "full", "fr")]["en"]  # GOOD beats POOR
    assert math.isnan(full_en["fr"])  # the failed cell


def test_load_reads_the_evaluations_of_a_sweep_still_running(planted):
    folder, _ = planted
    cells = results.load(folder.root)
    assert cells.attrs["source"] == "live: gather has not run yet"
    assert len(cells) == 6 and (cells["state"] == "done").sum() == 5
    row = cells.set_index("key").loc["evaluate/tiny/full-fr/fr/novel"]
    assert row["rougeL_delta"] > 0 and not math.isnan(row["rougeL_delta_p"])


def test_comparisons_without_the_file_is_a_clear_error(planted):
    folder, _ = planted
    with pytest.raises(UserError, match="comparisons.csv does not exist: the gather stage"):
        results.comparisons(folder.root)


def test_comparisons_reads_gathers_csv(planted):
    folder, _ = planted
    out = folder.output_dir("gather")
    out.mkdir(parents=True)
    # a stand-in for gather's comparisons.csv: the reader is what is tested here
    (out / "comparisons.csv").write_text("model,a,b,metric,delta\ntiny,full,lora,rougeL,0.25\n")
    frame = results.comparisons(folder.root)
    assert list(frame.columns) == ["model", "a", "b", "metric", "delta"]
    assert frame.loc[0, "delta"] == 0.25


def test_a_folder_that_is_no_sweep_or_a_damaged_cells_file_is_a_clear_error(gathered, tmp_path):
    with pytest.raises(SweepError, match="is not a sweep folder"):
        results.load(tmp_path / "nothing")
    cells_json = gathered.output_dir("gather") / "cells.json"
    cells_json.write_text('{"present": []}')
    with pytest.raises(SweepError, match="cells.json is not a list of evaluation cells"):
        results.load(gathered.root)
