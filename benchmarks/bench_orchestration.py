"""Login-node speed of the sweep engine: imports, planning, dry run and status at 10,000 tasks.

Prints figures; asserts nothing about time (shared machines make timed asserts flaky).
Run: .venv/bin/python benchmarks/bench_orchestration.py
"""

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from babelsum.config import validate_config
from babelsum.plan import make_plan

LANGS = ["en", "fr", "de", "ja", "it", "es", "pt", "nl", "ru", "zh"]


def big_config(methods: int = 50) -> dict:
    return {
        "study": "bench",
        "languages": LANGS,
        "models": {"m": {"path": "x"}},
        "train": {
            "languages": LANGS,
            "methods": [
                {"model": "m", "method": "full", "name": f"run{i}"} for i in range(methods)
            ],
        },
        "tracking": {"enabled": False},
    }


def timed(label: str, fn) -> float:
    start = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - start
    print(f"{label:<52} {elapsed:8.3f} s")
    return result


def ml_modules_imported(args: list[str]) -> list[str]:
    code = (
        "import sys, runpy; sys.argv = ['launch', *sys.argv[1:]]\n"
        "try:\n    runpy.run_module('babelsum.cli', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'transformers', 'datasets', 'mlflow', 'deepspeed') if m in sys.modules]\n"
        "print('HEAVY', ','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True).stdout
    line = [x for x in out.splitlines() if x.startswith("HEAVY")][-1]
    return [m for m in line.split(" ", 1)[1].split(",") if m]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config_path = Path(tmp) / "big.yaml"
        config_path.write_text(yaml.safe_dump(big_config()))
        print(
            "ML libraries imported by `launch --help`:", ml_modules_imported(["--help"]) or "none"
        )
        print(
            "ML libraries imported by `launch sweep --dry-run`:",
            ml_modules_imported(["sweep", str(config_path), "--dry-run"]) or "none",
        )
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "babelsum.cli", "--help"], capture_output=True, check=True
        )
        print(f"{'launch --help (whole process)':<52} {time.perf_counter() - start:8.3f} s")

        config = validate_config(big_config())
        plan = timed("validate + plan", lambda: make_plan(validate_config(big_config())))
        print(f"  tasks in plan: {len(plan.tasks())}")
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "babelsum.cli",
                "sweep",
                str(config_path),
                "--dry-run",
                "--executor",
                "slurm",
            ],
            capture_output=True,
            check=True,
        )
        print(
            f"{'launch sweep --dry-run --executor slurm (process)':<52} {time.perf_counter() - start:8.3f} s"
        )

        from babelsum.sweep import create_sweep

        sweep = Path(tmp) / "sweep"
        timed(
            "create the sweep folder (config + plan)",
            lambda: create_sweep(config, sweep, "local", str(config_path)),
        )
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "babelsum.cli", "status", str(sweep)],
            capture_output=True,
            check=True,
        )
        print(
            f"{'launch status over the sweep (process)':<52} {time.perf_counter() - start:8.3f} s"
        )


if __name__ == "__main__":
    main()
