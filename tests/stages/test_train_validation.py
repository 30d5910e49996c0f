"""Validation during training (loss, perplexity, the best checkpoint, early stopping), the
options of the SLDS and XSum studies (optimizers, Liger, merging adapters) and the precision a
full fine-tune is saved in: train tasks through the real runner, on tiny models (CPU)."""

import json
import math
import re
import shutil

import pytest
import torch
from safetensors.torch import load_file

from babelsum.runner import TaskFailed
from tests.stages.test_train import output_of, run_train
from tests.stages.train_sweeps import journal_metrics, task_status

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# a learning rate this high makes the validation loss rise after a few steps
STOPS_EARLY = {
    "model": "qwen2",
    "method": "full",
    "learning_rate": 0.1,
    "max_steps": 12,
    "eval_steps": 1,
    "eval_samples": 8,
    "save_steps": 1,
    "select_best": "loss",
    "early_stopping_patience": 2,
}


def checks(sweep, model: str, method: str, name: str) -> list[tuple[int, float]]:
    """(step, value) of each logged `name` (val_loss, val_rougeL...)."""
    logged = journal_metrics(sweep, model, method)
    return [(r["step"], r["metrics"][name]) for r in logged if name in r["metrics"]]


def checkpoint_of(sweep, model: str, method: str, step: int):
    from babelsum.plan import train_key
    from babelsum.state import SweepFolder

    work = SweepFolder(sweep).work_dir(train_key(model, method, "en"))
    return work / "checkpoints" / f"checkpoint-{step}"


def same_tensors(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_best_validation_loss_is_kept_and_training_stops_early(train_sweep):
    """A learning rate this high makes the validation loss rise after a few steps: training
    stops `early_stopping_patience` checks after the best one, and the model saved is the
    best step's checkpoint, not the last step's weights."""
    sweep = train_sweep([STOPS_EARLY])
    summary = run_train(sweep, "qwen2", "full")

    losses = checks(sweep, "qwen2", "full", "val_loss")
    perplexities = dict(checks(sweep, "qwen2", "full", "val_perplexity"))
    assert [step for step, _ in losses] == list(range(1, summary["steps"] + 1))
    assert all(math.isclose(perplexities[s], math.exp(v), rel_tol=1e-6) for s, v in losses)
    best_step, best_loss = min(losses, key=lambda c: c[1])
    assert (summary["best_step"], summary["best_value"]) == (best_step, best_loss)
    assert summary["best_metric"] == "val_loss"
    # stopped 2 checks after the best, well before max_steps
    assert summary["stopped_early_at"] == summary["steps"] == best_step + 2 < 12

    out = output_of(sweep, "qwen2", "full")
    saved = load_file(out / "model" / "model.safetensors")
    best = load_file(checkpoint_of(sweep, "qwen2", "full", best_step) / "model.safetensors")
    last = load_file(checkpoint_of(sweep, "qwen2", "full", summary["steps"]) / "model.safetensors")
    assert same_tensors(saved, best) and not same_tensors(saved, last)
    details = json.loads((out / "train_summary.json").read_text())
    assert details["best_step"] == best_step


def test_early_stopping_counts_on_across_a_resume(train_sweep):
    """The checks without improvement are saved in each checkpoint: a task resumed from the
    checkpoint one check after the best (as after a requeue at the time limit) stops where
    the uninterrupted run stopped, not `patience` checks later."""
    # keep the checkpoint one check after the best
    sweep = train_sweep([STOPS_EARLY | {"save_total_limit": 12}])
    first = run_train(sweep, "qwen2", "full")
    stopped = first["stopped_early_at"]
    assert stopped == first["best_step"] + 2 < 12

    one_after_best = checkpoint_of(sweep, "qwen2", "full", stopped - 1)
    saved = json.loads((one_after_best / "trainer_state.json").read_text())
    counted = saved["stateful_callbacks"]["BestCheckpoint"]["attributes"]
    assert counted["checks_without_improvement"] == 1
    for step in range(stopped, 13):  # as if killed before the last checkpoint was written
        if checkpoint_of(sweep, "qwen2", "full", step).exists():
            shutil.rmtree(checkpoint_of(sweep, "qwen2", "full", step))

    again = run_train(sweep, "qwen2", "full")

    assert again["resumed_from_step"] == stopped - 1
    assert again["stopped_early_at"] == again["steps"] == stopped
    assert again["best_step"] == first["best_step"]


def test_best_rouge_check_keeps_that_adapter_and_merges_it(train_sweep):
    """select_best: rougeL on a QLoRA adapter (paged 8-bit AdamW, as the XSum study): the
    adapter saved is the best ROUGE check's; train.merge_adapters then writes `merged/`, an
    ordinary model with the adapter folded in."""
    from transformers import AutoModelForCausalLM

    method = {
        "model": "phi3",
        "method": "qlora",
        "lora_r": 4,
        "optimizer": "paged_adamw_8bit",
        "learning_rate": 0.05,
        "max_steps": 6,
        "save_steps": 100,
        "rouge_every_steps": 2,
        "rouge_samples": 3,
        "max_summary_tokens": 8,
        "select_best": "rougeL",
    }
    sweep = train_sweep([method], train={"merge_adapters": True})
    summary = run_train(sweep, "phi3", "qlora")

    rouge = checks(sweep, "phi3", "qlora", "val_rougeL")
    assert [step for step, _ in rouge] == [2, 4, 6]
    best_value = max(v for _, v in rouge)
    best_step = next(s for s, v in rouge if v == best_value)  # the first of equal scores
    assert (summary["best_step"], summary["best_metric"]) == (best_step, "val_rougeL")
    out = output_of(sweep, "phi3", "qlora")
    saved = load_file(out / "model" / "adapter_model.safetensors")
    best = load_file(checkpoint_of(sweep, "phi3", "qlora", best_step) / "adapter_model.safetensors")
    assert same_tensors(saved, best)

    merged = out / "merged"
    assert (merged / "config.json").is_file() and not (merged / "adapter_config.json").exists()
    assert (merged / "tokenizer_config.json").is_file()
    AutoModelForCausalLM.from_pretrained(merged)
    assert json.loads((out / "train_summary.json").read_text())["merged_model"] == "merged"


def test_full_fine_tune_is_saved_in_its_training_precision(train_sweep):
    """bf16 mixed precision trains fp32 master weights; the model is saved in bf16. Also:
    the fused AdamW runs on CPU (torch >= 2.4), and Liger asked for without its package (or
    a GPU) is a notice, not a failure."""
    method = {
        "model": "qwen2",
        "method": "full",
        "precision": "bf16",
        "optimizer": "adamw_torch_fused",
        "use_liger_kernel": True,
        "max_steps": 2,
    }
    sweep = train_sweep([method])
    run_train(sweep, "qwen2", "full")
    out = output_of(sweep, "qwen2", "full")
    config = json.loads((out / "model" / "config.json").read_text())
    assert config["dtype"] == "bfloat16"
    assert {t.dtype for t in load_file(out / "model" / "model.safetensors").values()} == {
        torch.bfloat16
    }
    details = json.loads((out / "train_summary.json").read_text())
    assert details["saved_dtype"] == "bfloat16" and details["use_liger_kernel"] is False
    assert len(details["notices"]) == 1
    assert re.match(
        r"train.methods\[0\].use_liger_kernel: .*training without", details["notices"][0]
    )


@pytest.mark.skipif(
    __import__("importlib.util").util.find_spec("torchao") is not None,
    reason="torchao is installed",
)
def test_an_optimizer_whose_package_is_missing_is_named(train_sweep):
    sweep = train_sweep([{"model": "qwen2", "method": "full", "optimizer": "adamw_torch_4bit"}])
    with pytest.raises(TaskFailed):
        run_train(sweep, "qwen2", "full")
    reason = task_status(sweep, "qwen2", "full").reason
    assert re.match(r"train.methods\[0\].optimizer: adamw_torch_4bit: .*torchao", reason), reason


def test_eval_steps_without_validation_articles_says_so(train_sweep, tmp_path):
    """A validation split without an article in the training language (here: its English
    articles taken out) fails the task with the field to change."""
    import shutil

    import datasets

    from babelsum.state import SweepFolder

    sweep = train_sweep([{"model": "qwen2", "method": "full", "eval_steps": 2}])
    validation = SweepFolder(sweep).output_dir("split") / "validation"
    others = datasets.load_from_disk(str(validation)).filter(lambda r: r["language"] != "en")
    others.save_to_disk(str(tmp_path / "others"))
    shutil.rmtree(validation)
    shutil.copytree(tmp_path / "others", validation)
    with pytest.raises(TaskFailed):
        run_train(sweep, "qwen2", "full")
    reason = task_status(sweep, "qwen2", "full").reason
    assert reason.startswith("train.methods[0].eval_steps: the validation split has no article")


@pytest.mark.parametrize(
    "fields, error",
    [
        ({"select_best": "loss"}, "select_best 'loss' needs eval_steps"),
        ({"select_best": "rougeL"}, "select_best 'rougeL' needs rouge_every_steps"),
        ({"early_stopping_patience": 2}, "early_stopping_patience needs select_best"),
        ({"eval_samples": 5}, "eval_samples applies to the validation loss"),
    ],
)
def test_validation_settings_that_cannot_work_are_config_errors(fields, error):
    from pydantic import ValidationError

    from babelsum.config import TrainMethod

    with pytest.raises(ValidationError, match=error):
        TrainMethod(model="m", method="full", **fields)


def test_merge_adapters_without_an_adapter_is_a_config_error():
    from pydantic import ValidationError

    from babelsum.config import TrainConfig

    with pytest.raises(ValidationError, match="no lora or qlora method has an adapter"):
        TrainConfig(
            languages=["en"], methods=[{"model": "m", "method": "full"}], merge_adapters=True
        )


def test_preflight_names_an_unknown_optimizer():
    from babelsum.config import validate_config
    from babelsum.preflight import optimizers

    config = validate_config(
        {
            "study": "s",
            "languages": ["en"],
            "models": {"m": {"path": "tiny:qwen2"}},
            "train": {
                "languages": ["en"],
                "methods": [{"model": "m", "method": "full", "optimizer": "paged_adamw_8bits"}],
            },
            "evaluate": {"test_sets": ["novel"]},
        }
    )
    (problem,) = optimizers(config)
    assert problem.startswith("train.methods[0].optimizer: unknown optimizer 'paged_adamw_8bits'")
    assert "did you mean 'paged_adamw_8bit'?" in problem and "adamw_torch_4bit" in problem


def test_deepspeed_runs_as_a_world_of_one_process(train_sweep):
    """paper.yaml trains Qwen under DeepSpeed on one GPU: a task of one process, for which the
    backends export no torch.distributed variables (DeepSpeed then looked for MPI). Run as the
    local backend runs it, in a process of its own."""
    from tests.stages.train_sweeps import REPO, start_train_processes, train_index

    zero2 = str(REPO / "configs" / "deepspeed" / "zero2.json")
    sweep = train_sweep([{"model": "qwen2", "method": "full", "deepspeed": zero2, "max_steps": 2}])
    (process,) = start_train_processes(sweep, train_index(sweep, "qwen2", "full"), 1, 0)
    assert process.wait(timeout=600) == 0
    assert task_status(sweep, "qwen2", "full").state == "done"
    details = json.loads((output_of(sweep, "qwen2", "full") / "train_summary.json").read_text())
    assert details["deepspeed_zero_stage"] == 2 and details["steps"] == 2
