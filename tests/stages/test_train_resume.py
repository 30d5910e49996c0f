"""A training task killed mid-way resumes from its last checkpoint when run again, and a task
spread over two processes (DeepSpeed ZeRO over gloo) trains like on a cluster node.

Processes are started the way the local backend starts them (`python -m babelsum.runner`,
with RANK, WORLD_SIZE and MASTER_* exported); the kill is a real SIGKILL, like SLURM's at a
time limit or an out-of-memory kill.
"""

import json
import socket
import time

import pytest
import yaml

from babelsum.plan import train_key
from babelsum.runner import run_task
from babelsum.state import SweepFolder
from babelsum.training.checkpoints import latest_checkpoint
from tests.stages.train_sweeps import (
    journal_metrics,
    start_train_processes,
    task_status,
    train_index,
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_killed_task_resumes_from_its_checkpoint_and_counts_on(train_sweep):
    sweep = train_sweep([{"model": "qwen2", "method": "full", "max_steps": 40, "save_steps": 4}])
    checkpoints = SweepFolder(sweep).work_dir(train_key("qwen2", "full", "en")) / "checkpoints"
    (process,) = start_train_processes(sweep, train_index(sweep, "qwen2", "full"), 1, free_port())
    deadline = time.time() + 120
    while latest_checkpoint(checkpoints) is None and process.poll() is None:
        assert time.time() < deadline, "no checkpoint within two minutes"
        time.sleep(0.05)
    process.kill()
    process.wait()
    assert task_status(sweep, "qwen2", "full").state == "running"  # killed: nothing recorded
    killed_at = int(latest_checkpoint(checkpoints).name.split("-")[1])
    assert 4 <= killed_at < 40

    summary = run_task(sweep, "train", train_index(sweep, "qwen2", "full"))  # the resubmission

    assert summary["resumed_from_step"] >= killed_at and summary["steps"] == 40
    assert task_status(sweep, "qwen2", "full").state == "done"
    resumed = [r["step"] for r in journal_metrics(sweep, "qwen2", "full") if "loss" in r["metrics"]]
    assert resumed[-1] == 40 and resumed.count(40) == 1
    output = SweepFolder(sweep).output_dir(train_key("qwen2", "full", "en"))
    history = json.loads((output / "train_summary.json").read_text())["log_history"]
    assert [h["step"] for h in history if "loss" in h] == list(range(1, 41))  # one story, no gap


def change_method(sweep, **changes) -> None:
    """Edit the sweep's stored config, as a researcher does before `launch resubmit`."""
    config = yaml.safe_load((sweep / "config.yaml").read_text())
    config["train"]["methods"][0].update(changes)
    (sweep / "config.yaml").write_text(yaml.safe_dump(config))


def test_resumes_only_checkpoints_made_with_the_same_settings(train_sweep):
    sweep = train_sweep([{"model": "qwen2", "method": "full"}])
    index = train_index(sweep, "qwen2", "full")
    assert run_task(sweep, "train", index)["steps"] == 8

    change_method(sweep, max_steps=12, resources={"mem": "8G"})  # longer: continues
    summary = run_task(sweep, "train", index)
    assert summary["resumed_from_step"] == 8 and summary["steps"] == 12

    change_method(sweep, learning_rate=1.0e-4)  # another run: must not continue the old one
    summary = run_task(sweep, "train", index)
    assert summary["resumed_from_step"] == 0 and summary["steps"] == 12
    journal = SweepFolder(sweep).journal_path(train_key("qwen2", "full", "en")).read_text()
    assert "checkpoints made with other settings moved to checkpoints.other-settings-" in journal


@pytest.mark.slow
@pytest.mark.parametrize("zero", ["zero2", "zero3"])
def test_full_fine_tuning_under_deepspeed_over_two_processes(train_sweep, zero):
    sweep = train_sweep(
        [
            {
                "model": "qwen2",
                "method": "full",
                "deepspeed": f"configs/deepspeed/{zero}.json",
                "gradient_checkpointing": True,
                "per_device_batch_size": 1,
                "gradient_accumulation": 2,
            }
        ],
        processes=2,
    )
    processes = start_train_processes(sweep, train_index(sweep, "qwen2", "full"), 2, free_port())
    codes = [p.wait(timeout=600) for p in processes]
    status = task_status(sweep, "qwen2", "full")
    assert codes == [0, 0], status.reason
    assert status.state == "done"
    summary = status.summary
    assert summary["steps"] == 8 and summary["last_loss"] < summary["first_loss"]
    output = SweepFolder(sweep).output_dir(train_key("qwen2", "full", "en"))
    details = json.loads((output / "train_summary.json").read_text())
    assert details["processes"] == 2 and details["deepspeed_zero_stage"] == int(zero[-1])
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(output / "model")  # whole, not a shard
    assert sum(p.numel() for p in model.parameters()) == details["parameters"]
