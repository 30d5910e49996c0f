"""A train method's DeepSpeed JSON: where it is, what it holds, whether its batch settings
agree with the method's. No torch: `launch sweep` checks these on the login node.
"""

from __future__ import annotations

import json
from pathlib import Path

from babelsum.config import TrainMethod
from babelsum.errors import StageError

REPO_ROOT = Path(__file__).resolve().parents[3]  # a source checkout: configs/ lives here


def find_deepspeed_config(path: str, config_dir: Path | None, where: str) -> Path:
    """A method's `deepspeed:` file: absolute, or relative to the working folder, the sweep
    config's folder or the babelsum checkout (`configs/deepspeed/zero2.json` works from all)."""
    given = Path(path).expanduser()
    bases = [Path.cwd(), *([config_dir, config_dir.parent] if config_dir else []), REPO_ROOT]
    candidates = [given] if given.is_absolute() else [base / given for base in bases]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    tried = ", ".join(str(c) for c in candidates)
    raise StageError(f"{where}.deepspeed: no such file {path!r} (looked for {tried})")


def read_deepspeed_config(path: Path, where: str) -> dict:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise StageError(f"{where}.deepspeed: {path} is not valid JSON: {exc}") from None
    if not isinstance(config, dict) or "zero_optimization" not in config:
        raise StageError(
            f"{where}.deepspeed: {path} must be a JSON object with a zero_optimization section"
        )
    return config


def zero_stage(deepspeed_config: dict | None) -> int:
    if not deepspeed_config:
        return 0
    return int(deepspeed_config.get("zero_optimization", {}).get("stage", 0))


def batch_conflicts(deepspeed: dict, method: TrainMethod, processes: int, where: str) -> list[str]:
    """Batch settings of the DeepSpeed file that contradict the method's (DeepSpeed refuses to
    start on them, hours later, on a GPU node); "auto" always agrees."""
    expected = {
        "train_micro_batch_size_per_gpu": method.per_device_batch_size,
        "gradient_accumulation_steps": method.gradient_accumulation,
        "train_batch_size": method.per_device_batch_size * method.gradient_accumulation * processes,
    }
    return [
        f"{where}.deepspeed: {name} is {deepspeed[name]} in the DeepSpeed file but {value} "
        f'for this method ({processes} process(es)); set it to "auto" or {value}'
        for name, value in expected.items()
        if name in deepspeed and deepspeed[name] != "auto" and deepspeed[name] != value
    ]
