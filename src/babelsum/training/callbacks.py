"""What a training task reports while it runs, through `ctx.tracker`.

`TrainingMetrics`: every `logging_steps`, one `log_metrics` call with loss, learning rate,
gradient norm, tokens per second, padding ratio and peak memory; a NaN loss stops the task.
`RougeCheck`: every `rouge_every_steps`, summaries of a few validation articles and their ROUGE
(the original study's ROUGE callback), so a run that learns nothing shows it early.
"""

from __future__ import annotations

import math
import resource
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from transformers import TrainerCallback

from babelsum.errors import StageError
from babelsum.metrics.rouge import ROUGE_TYPES, score_corpus  # logged as val_rouge1, ...
from babelsum.training.collate import BatchStats

if TYPE_CHECKING:
    from babelsum.tracking import Tracker


def _sum_over_processes(values: tuple[int, ...]) -> list[int]:
    """Totals over all processes of a distributed task (every rank logs, so every rank calls)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return list(values)
    device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return [int(v) for v in tensor.tolist()]


def peak_memory() -> dict[str, float]:
    """Peak resident memory of this process, and peak GPU memory when there is a GPU."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    scale = 2**30 if sys.platform == "darwin" else 2**20
    memory = {"peak_rss_gb": rss / scale}
    if torch.cuda.is_available():
        memory["peak_gpu_memory_gb"] = torch.cuda.max_memory_allocated() / 2**30
    return memory


class TrainingMetrics(TrainerCallback):
    """Batched metrics per logging step; raises StageError on a NaN or infinite loss."""

    def __init__(self, tracker: Tracker, stats: BatchStats, main_process: bool):
        self.tracker = tracker
        self.stats = stats
        self.main_process = main_process
        self.last_time = time.perf_counter()
        self.last_logged: dict[str, float] = {}

    def on_train_begin(self, args, state, control, **kwargs):
        self.stats.take()  # tokens counted before training started are not throughput
        self.last_time = time.perf_counter()

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if "loss" not in logs:  # the Trainer's end-of-training summary
            return
        loss = float(logs["loss"])
        if not math.isfinite(loss):
            raise StageError(
                f"training loss is {loss} at step {state.global_step}: lower learning_rate, "
                "or train in bf16/fp32 rather than fp16"
            )
        real, total, supervised = _sum_over_processes(self.stats.take())
        now = time.perf_counter()
        seconds, self.last_time = max(now - self.last_time, 1e-9), now
        metrics = {
            "loss": loss,
            "learning_rate": float(logs.get("learning_rate", 0.0)),
            "tokens_per_second": real / seconds,
            "supervised_tokens_per_second": supervised / seconds,
            "padding_ratio": 1 - real / total if total else 0.0,
            "epoch": float(logs.get("epoch", 0.0)),
            **peak_memory(),
        }
        if logs.get("grad_norm") is not None:
            metrics["grad_norm"] = float(logs["grad_norm"])
        self.last_logged = metrics
        if self.main_process:
            self.tracker.log_metrics(metrics, step=state.global_step)


class RougeCheck(TrainerCallback):
    """Every `every` steps, summarize validation articles and log their ROUGE.

    `summarize(model)` returns one summary (None when generation failed) per reference. Under ZeRO-3 every process holds a
    shard of the weights, so all of them must generate together (`all_processes=True`);
    otherwise the main process generates alone while the others wait at the next step.
    """

    def __init__(
        self,
        every: int,
        summarize: Callable[[torch.nn.Module], list[str | None]],
        references: list[str],
        lang: str,
        tracker: Tracker,
        main_process: bool,
        all_processes: bool = False,
    ):
        self.every = every
        self.summarize = summarize
        self.references = references
        self.lang = lang
        self.tracker = tracker
        self.main_process = main_process
        self.all_processes = all_processes

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if not self.references or state.global_step % self.every:
            return
        if not (self.main_process or self.all_processes):
            return
        started = time.perf_counter()
        model.eval()
        try:
            with torch.no_grad():
                predictions = self.summarize(model)
        finally:
            model.train()
        if not self.main_process:
            return
        scores = score_corpus(predictions, self.references, self.lang)
        metrics = {f"val_{k}": float(scores[k]) for k in ROUGE_TYPES if scores.get(k) is not None}
        metrics["val_empty_summaries"] = float(sum(not (p or "").strip() for p in predictions))
        metrics["rouge_check_seconds"] = time.perf_counter() - started
        self.tracker.log_metrics(metrics, step=state.global_step)


class SaveBeforeStop(TrainerCallback):
    """Save a checkpoint as soon as the scheduler warns that the task will be stopped.

    A scheduler that stops tasks at a time limit or for preemption signals them a little
    before (SLURM: SIGUSR2, `engine.signal_delay_s` ahead). The backend names that signal in
    BABELSUM_SAVE_SIGNAL; without it this callback does nothing. On the signal the current
    step ends, a checkpoint is saved (every rank joins, even if only one got the signal), and
    then the signal's earlier handler runs (submitit's: requeue the task and exit), so the
    requeued task resumes from this step instead of the last periodic checkpoint.
    """

    def __init__(self):
        import os
        import signal
        import threading

        name = os.environ.get("BABELSUM_SAVE_SIGNAL")
        self.signum = getattr(signal, f"SIG{name}", None) if name else None
        self.asked = False
        self.saving = False
        self.frame = None
        self.previous = None
        if self.signum is not None and threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(self.signum, self._ask)

    def _ask(self, signum, frame) -> None:
        self.asked, self.frame = True, frame  # acted on at the end of the current step

    def on_step_end(self, args, state, control, **kwargs):
        if self.signum is None:
            return
        if _sum_over_processes((int(self.asked),))[0] > 0:
            self.saving = True
            control.should_save = True
            control.should_training_stop = True

    def on_save(self, args, state, control, **kwargs):
        if self.saving:
            import signal

            signal.signal(self.signum, self.previous or signal.SIG_DFL)
            if callable(self.previous):
                self.previous(self.signum, self.frame)
