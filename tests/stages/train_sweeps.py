"""Sweep folders ready for train tasks: the tiny models, and a done split task whose output is
the `split_output` fixture. Train tasks then run through the real runner, in this process or
in child processes started the way the local backend starts them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from babelsum.plan import train_key
from babelsum.state import SweepFolder, TaskStatus

REPO = Path(__file__).resolve().parents[2]

# settings that let a tiny model learn something in a few CPU seconds
QUICK = {
    "learning_rate": 3.0e-3,
    "max_steps": 8,
    "per_device_batch_size": 2,
    "warmup_ratio": 0.0,
    "max_input_tokens": 384,
    "max_summary_tokens": 96,
    "save_steps": 4,
    "logging_steps": 1,
}


def train_config(
    tiny_models: dict[str, Path], methods: list[dict], processes: int = 1, **sections
) -> dict:
    """`sections` replace the config's sections (`train` keys are added to its own)."""
    train = {"languages": ["en"], "methods": [QUICK | m for m in methods]}
    return (
        {
            "study": "train-test",
            "languages": ["en", "fr"],
            "models": {
                name: {
                    "path": str(path),
                    "family": "gemma3" if name == "gemma3-vision" else name,
                    "chat": name not in ("mbart", "phi"),
                }
                for name, path in tiny_models.items()
            },
            "evaluate": {"test_sets": ["novel"]},
            "resources": {"train": {"tasks_per_node": processes}},
            "tracking": {"enabled": False},
        }
        | sections
        | {"train": train | sections.get("train", {})}
    )


def train_index(sweep: Path, model: str, method: str, lang: str = "en") -> int:
    plan = json.loads((sweep / "plan.json").read_text())
    tasks = next(s["tasks"] for s in plan["stages"] if s["name"] == "train")
    return next(t["index"] for t in tasks if t["key"] == train_key(model, method, lang))


def task_status(sweep: Path, model: str, method: str, lang: str = "en") -> TaskStatus:
    return SweepFolder(sweep).read_status(train_key(model, method, lang))


def journal_metrics(sweep: Path, model: str, method: str, lang: str = "en") -> list[dict]:
    """Every `log_metrics` call of a task's rank-0 tracker, as {step, metrics}."""
    path = SweepFolder(sweep).journal_path(train_key(model, method, lang))
    records = [json.loads(line) for line in path.read_text().splitlines()]
    return [r for r in records if r["kind"] == "metrics"]


def start_train_processes(sweep: Path, index: int, processes: int, port: int) -> list:
    """`python -m babelsum.runner SWEEP train INDEX ATTEMPT` in `processes` processes, with the
    torch.distributed variables the local backend (and submitit on SLURM) export."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if processes > 1:
        env |= {
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "WORLD_SIZE": str(processes),
            "LOCAL_WORLD_SIZE": str(processes),
        }
    command = [sys.executable, "-m", "babelsum.runner", str(sweep), "train", str(index)]
    command.append(f"test-{port}")  # the attempt id, shared by its processes
    log = open(sweep / f"train-{index}-{port}.log", "a")  # noqa: SIM115 - closed by the caller's wait
    return [
        subprocess.Popen(
            command,
            env=env | ({"RANK": str(r), "LOCAL_RANK": str(r)} if processes > 1 else {}),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        for r in range(processes)
    ]
