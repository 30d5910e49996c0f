"""Training seeds through `launch sweep` with the real stages: `train.seeds: [0, 1]` trains a
tiny Qwen2 twice, evaluates each, and the report gives the seeds' mean with the between-seed
standard deviation beside each seed's own cell."""

import csv
import json
from pathlib import Path

import pytest
import yaml

from babelsum.cli import main

REPO = Path(__file__).resolve().parents[1]
CONFIG = {
    "study": "seeds",
    "languages": ["en"],
    "data": {"source": "synthetic", "synthetic": {"topics": 30}},
    "split": {"validation_topics": 2, "test_novel_topics": 4, "test_same_topic_per_pair": 0},
    "models": {"tiny-qwen2": {"path": "tiny:qwen2", "family": "qwen2"}},
    "train": {
        "languages": ["en"],
        "seeds": [0, 1],
        "methods": [
            {
                "model": "tiny-qwen2",
                "method": "full",
                "learning_rate": 2.0e-3,
                "max_steps": 12,
                "per_device_batch_size": 4,
                "max_input_tokens": 192,
                "max_summary_tokens": 32,
            }
        ],
    },
    "evaluate": {
        "test_sets": ["novel"],
        "max_new_tokens": 12,
        "max_input_tokens": 192,
        "bootstrap_samples": 100,
    },
    "tracking": {"enabled": False},
    "engine": {"local_parallel_tasks": 2},
}


@pytest.mark.slow
def test_two_seeds_train_twice_and_the_report_gives_their_mean_and_spread(tmp_path, monkeypatch):
    monkeypatch.setenv("BABELSUM_CACHE", str(REPO / ".cache" / "babelsum"))  # tiny models, once
    config = tmp_path / "seeds.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    sweep = tmp_path / "sweep"
    assert main(["sweep", str(config), "--sweep-dir", str(sweep), "--quiet"]) == 0
    trained = sorted(p.parent.name for p in (sweep / "tasks/train").rglob("status.json"))
    assert trained == ["seed0", "seed1"]
    summaries = [
        json.loads(
            (sweep / f"tasks/train/tiny-qwen2/full/en/{s}/output/train_summary.json").read_text()
        )
        for s in trained
    ]
    assert summaries[0]["train_loss"] != summaries[1]["train_loss"]  # other seeds, other runs

    gather = sweep / "tasks/gather/output"
    with open(gather / "cells.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["method"] == "full"]
    assert sorted(r["seed"] for r in rows) == ["0", "1", "mean"]
    mean = next(r for r in rows if r["seed"] == "mean")
    by_seed = [float(r["rougeL"]) for r in rows if r["seed"] != "mean"]
    assert float(mean["rougeL"]) == pytest.approx(sum(by_seed) / 2)
    assert float(mean["rougeL_seed_sd"]) >= 0
    report = (gather / "report.md").read_text()
    assert "Training seeds: 0, 1" in report and "between-seed standard deviation" in report
