"""Screenshot of the MLflow UI's compare view of two training runs, for the docs.

    python docs/screenshot_mlflow.py SWEEP_DIR [--out docs/mlflow-compare.png] [--tasks KEY KEY]
    python docs/screenshot_mlflow.py --demo    [--out docs/mlflow-compare.png]

With SWEEP_DIR it serves the sweep's local MLflow store (as `launch ui` does) and opens the
compare view of two of its train runs in headless Chromium (Debian: `apt-get install
chromium`). With --demo it first makes a small sweep whose two train tasks log made-up loss
curves through babelsum's tracker, so the picture shows real babelsum runs, tags and all.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from babelsum.config import validate_config
from babelsum.sweep import create_sweep, load_sweep
from babelsum.tracking import open_task_tracker, start_sweep_run, ui_command

DEMO_CONFIG = {
    "study": "demo-compare",
    "languages": ["en", "fr", "de", "ja"],
    "models": {"qwen2.5-0.5b": {"path": "Qwen/Qwen2.5-0.5B-Instruct", "family": "qwen2"}},
    "train": {
        "languages": ["fr", "ja"],
        "methods": [{"model": "qwen2.5-0.5b", "method": "qlora", "learning_rate": 2e-4}],
    },
    "evaluate": {"test_sets": ["novel"]},
}


def make_demo_sweep(root: Path) -> Path:
    """A sweep folder whose two train tasks logged a loss curve each (no training happens)."""
    config = validate_config(DEMO_CONFIG)
    folder, plan = create_sweep(config, root / "demo-sweep", "local", "docs/screenshot_mlflow.py")
    start_sweep_run(folder.root, config)
    for i, task in enumerate(t for t in plan.tasks() if t.stage == "train"):
        tracker = open_task_tracker(folder.root, config, task, attempt=1)
        tracker.log_params({"learning_rate": 2e-4, "lora_r": 16, "max_input_tokens": 4096})
        for step in range(5, 305, 5):
            loss = 0.9 + (1.4 + 0.3 * i) * 300 / (step + 60) - 0.1 * i
            tracker.log_metrics(
                {"loss": loss, "tokens_per_second": 5200.0 - 900 * i + step % 40},
                step=step,
            )
        tracker.log_metrics({"val_rouge1": 0.31 - 0.04 * i, "val_rougeL": 0.24 - 0.03 * i})
        tracker.close()
    return folder.root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/health", timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"the MLflow server at {url} did not answer in {timeout_s} s")


def compare_url(base: str, sweep_dir: Path, tasks: list[str] | None = None) -> str:
    from babelsum.tracking import experiment_name
    from mlflow import MlflowClient

    _, config, _ = load_sweep(sweep_dir)
    client = MlflowClient(tracking_uri=base)
    experiment = client.get_experiment_by_name(experiment_name(config))
    runs = client.search_runs(
        [experiment.experiment_id], "tags.stage = 'train'", order_by=["tags.task_key"]
    )
    if tasks:
        runs = sorted(
            (r for r in runs if r.data.tags.get("task_key") in tasks),
            key=lambda r: tasks.index(r.data.tags["task_key"]),
        )
    if len(runs) < 2:
        raise SystemExit(f"{sweep_dir} has {len(runs)} train run(s) in MLflow; two are needed")
    ids = [r.info.run_id for r in runs[:2]]
    query = urllib.parse.urlencode(
        {"runs": json.dumps(ids), "experiments": json.dumps([experiment.experiment_id])}
    )
    return f"{base}/#/compare-runs?{query}"


class Browser:
    """Headless Chromium driven over the DevTools protocol on a pipe (stdlib only)."""

    def __init__(self, width: int, height: int):
        browser = shutil.which("chromium") or shutil.which("chromium-browser")
        if browser is None:
            raise SystemExit("no chromium on PATH (Debian: apt-get install chromium)")
        # chromium's helper processes may still write to the profile as it closes
        self.profile = tempfile.TemporaryDirectory(ignore_cleanup_errors=True)
        to_browser, self._send = os.pipe()
        self._receive, from_browser = os.pipe()

        def pipes_as_3_and_4() -> None:  # --remote-debugging-pipe reads fd 3, writes fd 4
            os.dup2(to_browser, 3)
            os.dup2(from_browser, 4)

        self.process = subprocess.Popen(
            [
                browser,
                "--headless=new",
                "--no-sandbox",  # runs as root in containers
                "--disable-gpu",
                "--hide-scrollbars",
                "--remote-debugging-pipe",
                f"--user-data-dir={self.profile.name}",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=pipes_as_3_and_4,
            close_fds=False,
        )
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._next_id = 0
        self.session = None
        page = next(t for t in self.call("Target.getTargets")["targetInfos"] if t["type"] == "page")
        self.session = self.call("Target.attachToTarget", targetId=page["targetId"], flatten=True)[
            "sessionId"
        ]

    def call(self, method: str, **params) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if self.session:
            message["sessionId"] = self.session
        os.write(self._send, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self._buffer:
                chunk = os.read(self._receive, 1 << 20)
                if not chunk:
                    raise SystemExit("chromium closed the DevTools pipe")
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            answer = json.loads(raw)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise SystemExit(f"chromium: {method}: {answer['error']}")
                return answer.get("result", {})

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.profile.cleanup()


def screenshot(url: str, out: Path, width: int = 1500, height: int = 6000) -> None:
    """Open `url`, wait for the compare view, close MLflow's assistant panel, capture it all."""
    browser = Browser(width, height)
    try:
        browser.call("Page.enable")
        browser.call("Page.navigate", url=url)
        deadline = time.monotonic() + 90
        while not browser.evaluate("document.body.innerText.includes('Run details')"):
            if time.monotonic() > deadline:
                raise SystemExit(f"the compare view did not appear at {url}")
            time.sleep(0.5)
        time.sleep(3)  # charts draw after the tables
        # the UI opens its assistant panel on a first visit to a local server; not our topic
        browser.evaluate(
            "document.querySelector('[data-component-id=\"mlflow.assistant.chat_panel.close\"]')"
            "?.click()"
        )
        # tables scroll inside boxes of a fixed height: make each as tall as its rows (a height
        # of 'auto' would collapse the virtualized lists, whose rows are placed absolutely)
        browser.evaluate(
            "for (const e of document.querySelectorAll('main *, [role=main] *')) {"
            "  const y = getComputedStyle(e).overflowY;"
            "  if (['auto', 'scroll', 'hidden'].includes(y) && e.scrollHeight > e.clientHeight + 4) {"
            "    e.style.maxHeight = 'none'; e.style.height = e.scrollHeight + 'px';"
            "    e.style.overflowY = 'visible';"
            "  }"
            "}"
        )
        time.sleep(1)
        # the window starts tall (tables draw only the rows inside it); the picture ends
        # below the last row
        bottom = browser.evaluate(
            "Math.max(...[...document.querySelectorAll('[role=row], tr')]"
            ".map(r => r.getBoundingClientRect().bottom))"
        )
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=min(int(bottom or height) + 40, height),
            deviceScaleFactor=1,
            mobile=False,
        )
        time.sleep(1)
        shot = browser.call("Page.captureScreenshot", format="png")
    finally:
        browser.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(base64.b64decode(shot["data"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", nargs="?", type=Path)
    parser.add_argument("--demo", action="store_true", help="make a demo sweep to photograph")
    parser.add_argument("--out", type=Path, default=Path("docs/mlflow-compare.png"))
    parser.add_argument("--tasks", nargs=2, metavar="KEY", help="the two train tasks to compare")
    args = parser.parse_args(argv)
    if args.demo == (args.sweep_dir is not None):
        parser.error("give a SWEEP_DIR or --demo")
    os.environ.pop("MLFLOW_TRACKING_URI", None)  # the sweep's own local store
    with tempfile.TemporaryDirectory() as tmp:
        sweep_dir = make_demo_sweep(Path(tmp)) if args.demo else args.sweep_dir
        port = free_port()
        folder, config, _ = load_sweep(sweep_dir)
        command = ui_command(folder, config, port=port)
        server = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_up(base)
            url = compare_url(base, sweep_dir, args.tasks)
            screenshot(url, args.out)
        finally:
            os.killpg(server.pid, 15)
            server.wait(timeout=30)
    print(f"{args.out}  ({url})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
