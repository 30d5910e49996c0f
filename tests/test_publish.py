"""`launch push`: a trained adapter on the Hugging Face Hub with a card built from its run.

The tests never reach the Hub. `HubStandIn` takes the place of `huggingface_hub.HfApi` (the
network edge): it keeps each repository's files as a push would leave them, and can answer
as an unreachable Hub or one that refuses the token. Everything else is real: the sweep
folder, the planted evaluations scored by babelsum's own code, the cells that gather writes,
the token lookup and huggingface_hub's ModelCard.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx2
import huggingface_hub
import pytest
from huggingface_hub import ModelCard
from huggingface_hub.errors import HfHubHTTPError

from babelsum.cli import main as launch
from babelsum.config import validate_config
from babelsum.report.build import sweep_cells
from babelsum.report.cells import read_cells, write_cells
from babelsum.sweep import create_sweep
from tests.stages.planted import SUMMARIES, TOPICS, mark, plant_evaluation

QWEN = "Qwen/Qwen2.5-0.5B-Instruct"
REPO = "me/qwen-qlora-fr"
TRAIN = "train/qwen/qlora/fr"
PEFT_CARD = "---\nlibrary_name: peft\n---\n# the card PEFT writes\n"


class HubStandIn:
    """Stands in for the `HfApi` class: calling it gives the client, which records calls."""

    def __init__(self):
        self.repos: dict[str, dict[str, bytes]] = {}
        self.calls: list[tuple] = []
        self.commits: list[str] = []
        self.reachable = True
        self.status: int | None = None  # an HTTP error the Hub answers with

    def __call__(self, token=None, **kwargs):
        self.token = token
        return self

    def _answer(self, method: str, url: str) -> None:
        if not self.reachable:
            raise httpx2.ConnectError("[Errno 111] Connection refused")
        if self.status is not None:
            response = httpx2.Response(self.status, request=httpx2.Request(method, url))
            raise HfHubHTTPError(f"{self.status} Client Error for url: {url}", response=response)

    def create_repo(self, repo_id, *, private=None, exist_ok=False, **kwargs):
        self.calls.append(("create_repo", repo_id, private, exist_ok))
        self._answer("POST", "https://huggingface.co/api/repos/create")
        self.repos.setdefault(repo_id, {})
        return f"https://huggingface.co/{repo_id}"

    def upload_folder(self, *, repo_id, folder_path, commit_message=None, **kwargs):
        self.calls.append(("upload_folder", repo_id))
        self._answer("POST", f"https://huggingface.co/api/models/{repo_id}/commit/main")
        root = Path(folder_path)
        self.repos[repo_id] = {
            str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()
        }
        self.commits.append(commit_message)


@pytest.fixture
def hub(monkeypatch) -> HubStandIn:
    standin = HubStandIn()
    monkeypatch.setattr(huggingface_hub, "HfApi", standin)
    monkeypatch.setenv("HF_TOKEN", "hf_standin_token")
    return standin


@pytest.fixture
def sweep(tmp_path):
    """A sweep whose QLoRA training on French is done, and whose evaluations on English and
    French (base and trained) and gather have run; the trained model answers French well."""
    config = validate_config(
        {
            "study": "push-test",
            "languages": ["en", "fr"],
            "models": {"qwen": {"path": QWEN, "family": "qwen2"}},
            "train": {
                "languages": ["fr"],
                "methods": [
                    {"model": "qwen", "method": "qlora", "learning_rate": 2e-4, "lora_r": 8}
                ],
            },
            "evaluate": {"test_sets": ["novel"], "bootstrap_samples": 200},
            "tracking": {"enabled": False},
        }
    )
    folder, plan = create_sweep(config, tmp_path / "sweep", "local", str(tmp_path / "c.yaml"))
    model = folder.output_dir(TRAIN) / "model"
    model.mkdir(parents=True)
    (model / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": QWEN}))
    (model / "adapter_model.safetensors").write_bytes(b"\0" * 1000)
    (model / "tokenizer.json").write_text("{}")
    (model / "README.md").write_text(PEFT_CARD)
    summary = {"examples": 40, "steps": 150, "train_loss": 1.23456, "precision": "fp32"}
    summary |= {"processes": 1, "trainable_parameters": 12345, "parameters": 500000}
    (folder.output_dir(TRAIN) / "train_summary.json").write_text(json.dumps(summary))
    mark(folder, TRAIN, "done")

    for lang in ("en", "fr"):
        # half the French answers whole, half cut short: an interval with some width
        words = {t: SUMMARIES[lang].format(t=t).split() for t in TOPICS}
        good = {(t, lang): " ".join(words[t][: None if i % 2 else 5]) for i, t in enumerate(TOPICS)}
        poor = {(t, lang): "lorem ipsum dolor" for t in TOPICS}
        plant_evaluation(folder, f"evaluate/qwen/base/{lang}/novel", poor)
        plant_evaluation(
            folder, f"evaluate/qwen/qlora-fr/{lang}/novel", good if lang == "fr" else poor
        )
    evaluations = [folder.upstream(t) for t in plan.tasks() if t.stage == "evaluate"]
    assert len(evaluations) == 4
    gather = folder.output_dir("gather")
    gather.mkdir(parents=True)
    write_cells(gather / "cells.json", sweep_cells(config, evaluations, []))
    mark(folder, "gather", "done")
    return folder


def test_dry_run_writes_the_card_and_lists_the_files_without_uploading(hub, sweep, capsys):
    output = sweep.output_dir(TRAIN)
    assert launch(["push", str(output), REPO, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert hub.calls == []
    staged = sweep.task_dir(TRAIN) / "push"
    assert "dry run: would push 5 files" in out and f"model card: {staged / 'README.md'}" in out
    for name in ("README.md", "adapter_config.json", "adapter_model.safetensors",
                 "tokenizer.json", "train_summary.json"):  # fmt: skip
        assert f"  {name}\n" in out

    card = ModelCard.load(staged / "README.md")
    assert card.data.base_model == QWEN
    assert card.data.library_name == "peft"
    assert card.data.language == ["en", "fr"]
    assert "qlora" in card.data.tags
    text = card.text
    assert f"A fine-tuned version of [{QWEN}](https://huggingface.co/{QWEN})" in text
    assert "trained for summarization in `fr` with QLoRA" in text
    assert "| learning_rate | `0.0002` |" in text and "| lora_r | `8` |" in text
    assert "| training examples | 40 |" in text and "| steps | 150 |" in text
    assert "babelsum's synthetic corpus" in text

    # every cell of this model, with its interval and its paired difference from base
    cells = {
        c.eval_lang: c
        for c in read_cells(sweep.output_dir("gather") / "cells.json")
        if c.method == "qlora"
    }
    fr = cells["fr"]
    rouge, delta = fr.scores["rougeL"], fr.difference["rougeL"]
    assert rouge["low"] < rouge["mean"] < rouge["high"] and delta["low"] > 0
    row = next(line for line in text.splitlines() if line.startswith("| fr | novel |"))
    assert f"{rouge['mean']:.3f} [{rouge['low']:.3f}, {rouge['high']:.3f}]" in row
    assert f"{delta['delta']:+.3f} [{delta['low']:+.3f}, {delta['high']:+.3f}]" in row
    assert any(line.startswith("| en | novel | 6 |") for line in text.splitlines())

    # the task's output is as the task left it: PEFT's card is not overwritten
    assert (output / "model" / "README.md").read_text() == PEFT_CARD


def test_push_creates_the_repo_and_uploads_model_card_and_summary_in_one_commit(hub, sweep, capsys):
    output = sweep.output_dir(TRAIN)
    assert launch(["push", str(output), REPO, "--private"]) == 0
    assert "pushed 5 files" in capsys.readouterr().out
    assert hub.token == "hf_standin_token"
    assert hub.calls == [("create_repo", REPO, True, True), ("upload_folder", REPO)]
    files = hub.repos[REPO]
    assert sorted(files) == [
        "README.md",
        "adapter_config.json",
        "adapter_model.safetensors",
        "tokenizer.json",
        "train_summary.json",
    ]
    assert files["adapter_model.safetensors"] == b"\0" * 1000
    assert ModelCard(files["README.md"].decode()).data.base_model == QWEN
    assert hub.commits == [f"babelsum: {TRAIN} of study push-test"]


def test_the_task_folder_may_be_given_and_without_gather_the_card_says_so(hub, sweep):
    (sweep.output_dir("gather") / "cells.json").unlink()
    assert launch(["push", str(sweep.task_dir(TRAIN)), REPO, "--dry-run"]) == 0
    card = (sweep.task_dir(TRAIN) / "push" / "README.md").read_text()
    assert "No scores yet: the sweep's gather task has not run." in card


def test_without_a_token_push_says_how_to_log_in(hub, sweep, monkeypatch, capsys, tmp_path):
    from huggingface_hub import constants

    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    assert launch(["push", str(sweep.output_dir(TRAIN)), REPO]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no Hugging Face token: set HF_TOKEN or log in")
    assert len(err.splitlines()) == 1 and hub.calls == []


@pytest.mark.parametrize(
    ("reachable", "status", "said"),
    [
        (False, None, "the Hub cannot be reached ([Errno 111] Connection refused)"),
        (True, 401, "the Hub refused the token (401)"),
        (True, 403, f"the token may not write to {REPO} (403)"),
    ],
)
def test_hub_failures_are_one_line(hub, sweep, capsys, reachable, status, said):
    hub.reachable, hub.status = reachable, status
    assert launch(["push", str(sweep.output_dir(TRAIN)), REPO]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: push to {REPO}: {said}") and len(err.splitlines()) == 1


def test_what_is_not_a_finished_train_output_is_refused_in_one_line(hub, sweep, capsys, tmp_path):
    evaluation = sweep.output_dir("evaluate/qwen/base/fr/novel")
    cases = [
        ([str(evaluation), REPO], "evaluate/qwen/base/fr/novel is not a train task"),
        ([str(tmp_path), REPO], "is not a task's output folder in a sweep"),
        ([str(tmp_path / "nowhere"), REPO], "no such folder"),
        ([str(sweep.output_dir(TRAIN)), "me/bad--name"], "repo id 'me/bad--name'"),
    ]
    for args, said in cases:
        assert launch(["push", *args, "--dry-run"]) == 2
        err = capsys.readouterr().err
        assert said in err and len(err.splitlines()) == 1, err
    (sweep.output_dir(TRAIN) / "model").rename(sweep.task_dir(TRAIN) / "model-moved")
    assert launch(["push", str(sweep.output_dir(TRAIN)), REPO]) == 2
    assert "has no model/ folder: the train task" in capsys.readouterr().err
