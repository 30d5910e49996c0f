"""What logging costs a training loop: babelsum's tracker against one MLflow call per step.

Both log the same metrics (loss, learning rate, throughput), step by step, to a real MLflow
server started here (mlflow/start-sqlite.sh on 127.0.0.1):

- per-step calls: `MlflowClient.log_metric` for each value of each step (the baseline);
- babelsum:       `Tracker.log_metrics` each step: a journal line, then one `log_batch` call
                  per `batch_seconds` (here also measured with the server down).

Prints the time per logged step of each and the ratio; every point is checked to have arrived.
Run: .venv/bin/python benchmarks/bench_tracking.py [--steps 200]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from babelsum.config import validate_config
from babelsum.sweep import create_sweep
from babelsum.tracking import open_task_tracker, start_sweep_run
from mlflow import MlflowClient

REPO = Path(__file__).resolve().parents[1]


def start_server(root: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "MLFLOW": str(Path(sys.executable).with_name("mlflow")),
        "MLFLOW_DB_DIR": str(root / "db"),
        "MLFLOW_HOST": "127.0.0.1",
        "MLFLOW_PORT": str(port),
        "MLFLOW_WORKERS": "1",
    }
    server = subprocess.Popen(
        [str(REPO / "mlflow" / "start-sqlite.sh")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    uri = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            urllib.request.urlopen(f"{uri}/health", timeout=2)
            return server, uri
        except OSError:
            time.sleep(0.5)
    raise SystemExit("the MLflow server did not start")


def metrics_at(step: int) -> dict[str, float]:
    return {"loss": 1.0 / step, "learning_rate": 2e-5, "tokens_per_second": 5000.0 + step}


def per_step_calls(uri: str, steps: int) -> float:
    client = MlflowClient(tracking_uri=uri)
    run_id = client.create_run(client.create_experiment("baseline")).info.run_id
    started = time.perf_counter()
    for step in range(1, steps + 1):
        for key, value in metrics_at(step).items():
            client.log_metric(run_id, key, value, step=step)
    elapsed = time.perf_counter() - started
    assert len(client.get_metric_history(run_id, "loss")) == steps
    return elapsed


def babelsum_tracker(root: Path, uri: str, steps: int, name: str) -> tuple[float, object]:
    config = validate_config(
        {
            "study": name,
            "languages": ["en"],
            "models": {"tiny": {"path": "unused"}},
            "train": {"languages": ["en"], "methods": [{"model": "tiny", "method": "full"}]},
            "tracking": {"uri": uri},
        }
    )
    folder, plan = create_sweep(config, root / name, "local", "benchmark")
    start_sweep_run(folder.root, config)
    tracker = open_task_tracker(folder.root, config, plan.by_key()["train/tiny/full/en"], attempt=1)
    started = time.perf_counter()
    for step in range(1, steps + 1):
        tracker.log_metrics(metrics_at(step), step=step)
    elapsed = time.perf_counter() - started
    tracker.close()
    return elapsed, folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        server, uri = start_server(root)
        try:
            baseline = per_step_calls(uri, args.steps)
            ours, folder = babelsum_tracker(root, uri, args.steps, "bench-up")
            client = MlflowClient(tracking_uri=uri)
            experiment = client.get_experiment_by_name("bench-up").experiment_id
            (run,) = client.search_runs([experiment], "tags.kind = 'task'")
            assert len(client.get_metric_history(run.info.run_id, "loss")) == args.steps
            # the same loop with the server unreachable: journal only, one failed try a minute
            down, folder_down = babelsum_tracker(
                root, "http://127.0.0.1:9", args.steps, "bench-down"
            )
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait()
    per_step = 1000 / args.steps
    print(f"{args.steps} steps, 3 metrics each, MLflow server on 127.0.0.1")
    print(f"  per-step log_metric calls   {baseline * per_step:8.2f} ms/step   (baseline)")
    print(f"  babelsum tracker            {ours * per_step:8.2f} ms/step   "
          f"{baseline / ours:6.1f}x faster")  # fmt: skip
    print(f"  babelsum tracker, server down {down * per_step:6.2f} ms/step   "
          f"{baseline / down:6.1f}x faster")  # fmt: skip


if __name__ == "__main__":
    main()
