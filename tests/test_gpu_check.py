"""benchmarks/gpu_check.py --smoke: the GPU check's every section on CPU at tiny sizes, so the
script that measures the study's real sizes on a GPU machine keeps working without one.

The smoke run goes the GPU run's way: its own child process per section, the train task of a
sweep through the runner (DeepSpeed ZeRO-2 over gloo, NF4 through bitsandbytes' CPU backend),
and generation through `models.generate` in fixed-size and token-budget batches.
"""

import importlib.util
import json
import math
import subprocess
import sys

import pytest

from tests.tiny_models import REPO

SCRIPT = REPO / "benchmarks" / "gpu_check.py"


def gpu_check():
    """The script as a module (its top level imports nothing but the standard library)."""
    if "gpu_check" not in sys.modules:
        spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
        module = importlib.util.module_from_spec(spec)
        sys.modules["gpu_check"] = module  # its dataclass looks its module up there
        spec.loader.exec_module(module)
    return sys.modules["gpu_check"]


@pytest.mark.parametrize(
    ("device", "named", "tflops"),
    [
        ("NVIDIA H100 80GB HBM3", "H100 SXM", 989.4),
        ("NVIDIA H100 PCIe", "H100 PCIe", 756.0),
        ("NVIDIA H100 NVL", "H100 NVL", 835.0),
        ("NVIDIA H200", "H200 SXM", 989.4),
        ("NVIDIA A100-SXM4-80GB", "A100", 312.0),
    ],
)
def test_the_bf16_peak_is_named_from_the_device_name(device, named, tflops):
    assert gpu_check().bf16_peak(device) == (named, tflops)
    assert gpu_check().bf16_peak("Tesla T4") is None


def test_mfu_is_six_flops_per_parameter_and_token_over_the_peak():
    check = gpu_check()
    full = {"parameters": 494_032_768, "tokens_per_second": 100_000.0}
    on_h100 = {"cuda": "13.0", "device": "NVIDIA H100 80GB HBM3", "bf16_peak_tflops": 989.4}
    assert check.mfu(full, on_h100) == pytest.approx(6 * 494_032_768 * 1e5 / 989.4e12)
    assert check.mfu(full, on_h100 | {"bf16_peak_tflops": None}).startswith("n/a (no bf16 peak")
    assert check.mfu(full, {"cuda": None, "device": "CPU (x86_64)"}) == "n/a (CPU)"


@pytest.mark.slow  # about a minute on 2 cores: three processes import torch and train or generate
def test_gpu_check_smoke_measures_every_section_on_cpu(tmp_path):
    out = tmp_path / "gpu_check.json"
    command = [sys.executable, str(SCRIPT), "--smoke"]
    command += ["--out", str(out), "--work", str(tmp_path / "work")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]

    results = json.loads(out.read_text())
    assert results["device"].startswith("CPU") and results["smoke"] is True
    assert results["versions"]["deepspeed"] and results["versions"]["bitsandbytes"]
    full, qlora, generation = results["full_finetune"], results["qlora"], results["generation"]
    for part in (full, qlora):
        assert part["steps"] == 3 and part["steps_measured"] == 2
        for figure in ("tokens_per_second", "peak_memory_gb", "first_loss", "last_loss"):
            assert math.isfinite(part[figure]) and part[figure] > 0, (figure, part)
        assert part["loss_finite"] is True
        assert part["tokens_per_example"] == 256  # the article cut to fill the example exactly
    assert full["deepspeed_zero_stage"] == 2 and full["mfu"] == "n/a (CPU)"
    assert full["trainable_parameters"] == full["parameters"]
    assert 0 < qlora["trainable_parameters"] < qlora["parameters"]  # the adapters only
    for batching in ("fixed", "budget"):
        figures = generation[batching]
        assert math.isfinite(figures["tokens_per_second"]) and figures["tokens_per_second"] > 0
        assert figures["failed"] == 0 and figures["new_tokens"] > 0
    assert generation["budget"]["batches"] < generation["fixed"]["batches"]
    assert generation["identical_outputs"] == 4  # greedy: the batching changes no answer
    assert generation["vllm"] == {"skipped": "no GPU"}

    table = done.stdout
    assert "full FT qwen2.5-0.5b, ZeRO-2" in table and "QLoRA phi-4-mini, NF4, r 32" in table
    assert "max_batch_tokens 1,040" in table and "identical outputs 4/4" in table


def trained(**figures) -> dict:
    return {
        "steps": 20,
        "tokens_per_example": 4096.0,
        "precision": "bf16",
        "first_loss": 12.1,
        "last_loss": 11.9,
        "loss_finite": True,
        "peak_memory_gb": 20.5,
        **figures,
    }


def test_the_table_of_a_gpu_run_shows_mfu_the_peak_and_each_failure():
    """The table a GPU run prints after minutes of work, built from results shaped like it."""
    check = gpu_check()
    batches = {"tokens_per_second": 900.0, "peak_memory_gb": 3.0, "batches": 8}
    results = {
        "device": "NVIDIA H100 80GB HBM3",
        "cuda": "13.0",
        "bf16_peak_gpu": "H100 SXM",
        "bf16_peak_tflops": 989.4,
        "python": "3.12.3",
        "versions": {"torch": "2.11.0", "deepspeed": "0.19.8"},
        "sizes": {"prompts": 64, "new_tokens": 256, "eval_batch_size": 8},
        "full_finetune": trained(
            parameters=494_032_768,
            published_parameters=494_032_768,
            tokens_per_second=100_000.0,
            mfu=0.2996,
        ),
        "qlora": {"error": "exit 1", "log_tail": ["CUDA error"]},
        "generation": {
            "fixed": batches,
            "budget": batches | {"tokens_per_second": 1200.0, "batches": 6},
            "max_batch_tokens": 34816,
            "budget_over_fixed": 1.33,
            "identical_outputs": 61,
            "vllm": {"skipped": "vllm is not installed"},
        },
        "seconds": 300.0,
    }
    table = check.table(results)
    assert "(bf16 dense peak 989.4 TFLOP/s: H100 SXM)" in table
    assert "30.0%" in table and "20.50 GiB" in table and "(as published)" in table
    assert "FAILED: exit 1" in table and "skipped: vllm is not installed" in table
    assert "1.33x fixed; identical outputs 61/64" in table
