"""The demo config runs through `launch sweep` with the real stages, and fine-tuning beats the
base model on its training language for every method (issue: evaluation and gather).

The demo itself trains on en and fr and evaluates on en, fr and ja (about 10 minutes here);
this test trains on fr only and evaluates en and fr, which keeps every stage, model and method:
DeepSpeed ZeRO-2 over 2 processes, QLoRA on NF4, mBART seq2seq, and both test sets: the
same-topic cell of a model trained on fr is fr>en (English articles whose topic is in the
French training data); fr>fr does not exist.
"""

import json
from pathlib import Path

import pytest

from babelsum.cli import main

REPO = Path(__file__).resolve().parents[1]
SMALLER = ["languages=[en,fr]", "train.languages=[fr]"]
METHODS = {("tiny-qwen2", "full"), ("tiny-phi3", "qlora"), ("tiny-mbart", "seq2seq")}


@pytest.mark.slow
def test_demo_fine_tuning_beats_the_base_model_on_its_own_language(tmp_path, monkeypatch):
    monkeypatch.setenv("BABELSUM_CACHE", str(REPO / ".cache" / "babelsum"))  # tiny models, once
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(REPO)  # the demo names configs/deepspeed/zero2.json from the checkout
    sweep = tmp_path / "demo"
    args = ["sweep", "configs/demo.yaml", *SMALLER, "--sweep-dir", str(sweep), "--quiet"]
    assert main(args) == 0
    cells = json.loads((sweep / "tasks/gather/output/cells.json").read_text())
    # novel: 3 trained + 3 base models x en, fr; same topics: fr>en for each trained model
    # and en for each base model; the diagonal fr>fr is there as n/a, not as a number
    done = [c for c in cells if c["state"] == "done"]
    assert len(done) == 18 and len(cells) == 21, [(c["key"], c["state"]) for c in cells]
    diagonal = [c for c in cells if c["state"] == "n/a"]
    assert {(c["model"], c["method"], c["eval_lang"], c["test_set"]) for c in diagonal} == {
        (*m, "fr", "same_topic") for m in METHODS
    }
    assert all("the training article itself" in c["reason"] for c in diagonal)
    own = {
        (c["model"], c["method"]): c["difference"]["rougeL"]
        for c in done
        if c["train_lang"] == "fr" and c["eval_lang"] == "fr" and c["test_set"] == "novel"
    }
    assert set(own) == METHODS
    for method, difference in own.items():
        assert difference["low"] > 0, (method, difference)  # the interval excludes 0
    check_same_topic_cells(sweep, done)
    report = (sweep / "tasks/gather/output/report.md").read_text()
    assert "18 of 18 evaluation cells finished" in report
    assert "n/a" in report and "## Overview" in report
    assert (sweep / "tasks/gather/output/comparisons.csv").is_file()


def check_same_topic_cells(sweep: Path, done: list[dict]) -> None:
    """Every article a trained model was scored on in a same-topic cell has its topic in that
    model's training language's train split, and is itself in no train split."""
    from babelsum.data.splits import load_split

    split = sweep / "tasks/split/output"
    train = {(r["article_id"], r["language"]) for r in load_split(split, "train")}
    trained_same_topic = [c for c in done if c["test_set"] == "same_topic" and c["train_lang"]]
    assert len(trained_same_topic) == 3
    for cell in trained_same_topic:
        predictions = sweep / "tasks" / cell["key"] / "output" / "predictions.jsonl"
        articles = [json.loads(line) for line in predictions.read_text().splitlines()]
        assert len(articles) == 4  # split.test_same_topic_per_pair in configs/demo.yaml
        for a in articles:
            assert (a["article_id"], cell["train_lang"]) in train
            assert (a["article_id"], a["language"]) not in train and a["language"] == "en"
