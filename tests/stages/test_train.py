"""The train stage through the real runner, on tiny models of the real architectures (CPU)."""

import json
import re
import shutil

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

from babelsum.plan import train_key
from babelsum.runner import TaskFailed, run_task
from babelsum.state import SweepFolder
from tests.stages.train_sweeps import journal_metrics, task_status, train_index


def run_train(sweep, model: str, method: str):
    return run_task(sweep, "train", train_index(sweep, model, method))


def output_of(sweep, model: str, method: str):
    return SweepFolder(sweep).output_dir(train_key(model, method, "en"))


def test_full_fine_tuning_learns_and_saves_a_model(train_sweep):
    sweep = train_sweep([{"model": "qwen2", "method": "full", "batching": "length_grouped"}])
    summary = run_train(sweep, "qwen2", "full")

    assert summary["steps"] == 8 and summary["resumed_from_step"] == 0
    assert summary["last_loss"] < summary["first_loss"]
    out = output_of(sweep, "qwen2", "full")
    assert (out / "model" / "config.json").is_file() and (
        out / "model" / "tokenizer.json"
    ).is_file()
    AutoModelForCausalLM.from_pretrained(out / "model")  # Hugging Face layout, loads as is
    details = json.loads((out / "train_summary.json").read_text())
    assert details["data"]["examples"] > 0 and details["train_lang"] == "en"
    # the whole run's throughput: the last logging window can count no batch (the loader
    # fetches one ahead), the run cannot
    assert details["tokens_per_second"] > 0

    logged = journal_metrics(sweep, "qwen2", "full")
    per_step = [r for r in logged if "loss" in r["metrics"] and r["step"]]
    assert len(per_step) == 8  # logging_steps 1: one batched call per step
    keys = set(per_step[-1]["metrics"])
    assert {"loss", "learning_rate", "grad_norm", "tokens_per_second", "padding_ratio"} <= keys
    assert "peak_rss_gb" in keys and 0 <= per_step[-1]["metrics"]["padding_ratio"] < 1


def test_qlora_trains_an_adapter_on_nf4_weights(train_sweep):
    sweep = train_sweep(
        [{"model": "phi3", "method": "qlora", "lora_r": 4, "batching": "padding_free"}]
    )
    summary = run_train(sweep, "phi3", "qlora")
    assert summary["steps"] == 8 and summary["padding_ratio"] == 0.0
    model_dir = output_of(sweep, "phi3", "qlora") / "model"
    adapter = json.loads((model_dir / "adapter_config.json").read_text())
    assert adapter["r"] == 4 and adapter["base_model_name_or_path"].endswith("phi3")
    assert (model_dir / "tokenizer_config.json").is_file()


def test_two_runs_of_one_qlora_config_train_the_same_adapter(train_sweep, one_torch_thread):
    """The method's seed covers the adapter's first weights, drawn when the model is built,
    before the Trainer seeds anything: a run from scratch repeats the same losses, whatever
    used the random generator before it."""
    sweep = train_sweep(
        [{"model": "phi3", "method": "qlora", "lora_r": 4, "max_steps": 6, "save_steps": 100}]
    )

    def losses() -> list[float]:
        out = output_of(sweep, "phi3", "qlora") / "train_summary.json"
        return [h["loss"] for h in json.loads(out.read_text())["log_history"] if "loss" in h]

    run_train(sweep, "phi3", "qlora")
    first = losses()
    torch.randn(17)  # what ran before (another task of the job) draws from the generator
    shutil.rmtree(SweepFolder(sweep).work_dir(train_key("phi3", "qlora", "en")))
    run_train(sweep, "phi3", "qlora")
    assert losses() == first and len(first) == 6


def test_lora_trains_an_adapter_on_full_precision_weights(train_sweep):
    sweep = train_sweep([{"model": "gemma3", "method": "lora", "batching": "padded"}])
    summary = run_train(sweep, "gemma3", "lora")
    assert summary["steps"] == 8 and summary["padding_ratio"] > 0  # random batches pad
    details = json.loads((output_of(sweep, "gemma3", "lora") / "train_summary.json").read_text())
    assert 0 < details["trainable_parameters"] < details["parameters"]
    adapter = json.loads(
        (output_of(sweep, "gemma3", "lora") / "model" / "adapter_config.json").read_text()
    )
    assert adapter["r"] == 16 and adapter["lora_alpha"] == 32  # the config's defaults


def test_qlora_model_is_nf4_with_double_quantization(tiny_models):
    import bitsandbytes as bnb

    from babelsum.config import ModelSpec, TrainMethod
    from babelsum.stages.train import load_for_method

    spec = ModelSpec(path=str(tiny_models["phi3"]), family="phi3")
    method = TrainMethod(model="phi3", method="qlora", target_modules=["qkv_proj", "o_proj"])
    model = load_for_method(spec, method, "fp32", "train.methods[0]")
    layers = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert layers and all(m.weight.quant_type == "nf4" for m in layers)
    assert layers[0].weight.quant_state.nested  # double quantization
    trainable = {n.split(".")[-4] for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"qkv_proj", "o_proj"}


def test_seq2seq_fine_tunes_mbart(train_sweep):
    sweep = train_sweep([{"model": "mbart", "method": "seq2seq"}])
    summary = run_train(sweep, "mbart", "seq2seq")
    assert summary["steps"] == 8 and summary["last_loss"] < summary["first_loss"]
    AutoModelForSeq2SeqLM.from_pretrained(output_of(sweep, "mbart", "seq2seq") / "model")


@pytest.mark.parametrize(
    "method, reason",
    [
        (
            {"model": "phi3", "method": "qlora", "target_modules": ["Wqkv", "out_proj"]},
            r"train.methods\[0\].target_modules: LoRA target_modules Wqkv, out_proj match no .*qkv_proj",
        ),
        (
            {"model": "qwen2", "method": "full", "deepspeed": "broken.json"},
            r"train.methods\[0\].deepspeed: .*broken.json is not valid JSON",
        ),
        (
            {"model": "qwen2", "method": "full", "learning_rate": 1.0e30, "max_grad_norm": 1.0e30},
            r"training loss is (nan|inf) at step \d+",
        ),
    ],
)
def test_bad_input_fails_the_task_with_a_clear_reason(
    train_sweep, tmp_path, monkeypatch, method, reason
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "broken.json").write_text('{"zero_optimization": {"stage": 2},}')
    sweep = train_sweep([method])
    with pytest.raises(TaskFailed):
        run_train(sweep, method["model"], method["method"])
    status = task_status(sweep, method["model"], method["method"])
    assert status.state == "failed"
    assert re.search(reason, status.reason), status.reason


def test_rouge_check_scores_validation_summaries_every_k_steps(train_sweep):
    sweep = train_sweep(
        [
            {
                "model": "mbart",
                "method": "seq2seq",
                "rouge_every_steps": 4,
                "rouge_samples": 3,
                "max_summary_tokens": 16,
            }
        ]
    )
    run_train(sweep, "mbart", "seq2seq")
    checks = [r for r in journal_metrics(sweep, "mbart", "seq2seq") if "val_rouge1" in r["metrics"]]
    assert [c["step"] for c in checks] == [4, 8]
    assert {"val_rouge2", "val_rougeL", "val_rougeLsum", "val_empty_summaries"} <= set(
        checks[0]["metrics"]
    )


def test_the_schedulers_warning_signal_saves_a_checkpoint_at_once(train_sweep, monkeypatch):
    """SLURM signals a task (SIGUSR2) before its time limit; the train stage then saves a
    checkpoint at the end of the current step and hands the signal to the handler that was
    there before (submitit's, which requeues the task: here a stand-in that records the call,
    since the test runs outside SLURM)."""
    import os
    import signal
    import threading

    sweep = train_sweep(
        [{"model": "qwen2", "method": "full", "max_steps": 400, "save_steps": 1000}]
    )
    checkpoints = SweepFolder(sweep).work_dir(train_key("qwen2", "full", "en")) / "checkpoints"
    handed_on = []

    def submitit_stand_in(signum, frame):
        handed_on.append(sorted(p.name for p in checkpoints.glob("checkpoint-*")))

    previous = signal.signal(signal.SIGUSR2, submitit_stand_in)
    monkeypatch.setenv("BABELSUM_SAVE_SIGNAL", "USR2")
    stop = threading.Event()

    def signal_once_training_runs():  # as SLURM would, some time into the run
        while not stop.wait(0.2):
            try:
                logged = journal_metrics(sweep, "qwen2", "full")
            except (FileNotFoundError, ValueError):  # no journal yet, or a line half written
                continue
            if any(r["step"] and r["step"] >= 3 for r in logged):
                os.kill(os.getpid(), signal.SIGUSR2)
                return

    sender = threading.Thread(target=signal_once_training_runs, daemon=True)
    sender.start()
    try:
        summary = run_train(sweep, "qwen2", "full")
    finally:
        stop.set()
        signal.signal(signal.SIGUSR2, previous)
    assert 0 < summary["steps"] < 400  # stopped early, at the step after the signal
    assert handed_on == [[f"checkpoint-{summary['steps']}"]]  # saved before handing on
