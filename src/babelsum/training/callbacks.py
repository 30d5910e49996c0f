"""What a training task reports while it runs, through `ctx.tracker`.

`TrainingMetrics`: every `logging_steps`, one `log_metrics` call with loss, learning rate,
gradient norm, tokens per second, padding ratio and peak memory; a NaN loss stops the task.
`RougeCheck`: every `rouge_every_steps`, summaries of a few validation articles and their ROUGE
(the original study's ROUGE callback), so a run that learns nothing shows it early.
The validation loss of the Trainer's evaluations (every `eval_steps`) is logged as `val_loss`
and `val_perplexity` by `TrainingMetrics`.
`BestCheckpoint`: keeps the checkpoint of the best validation rougeL or loss (`select_best`)
and stops training after `early_stopping_patience` checks without improvement.
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
from transformers.trainer_callback import ExportableState

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


def _from_main_process(value: float) -> float:
    """The main process's `value` in every process (the others pass anything, e.g. 0)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return value
    device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    mine = value if dist.get_rank() == 0 else 0.0
    tensor = torch.tensor([mine], dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return float(tensor.item())


def perplexity(loss: float) -> float:
    """exp(loss), or inf where that overflows a float (a diverged run)."""
    try:
        return math.exp(loss)
    except OverflowError:
        return math.inf


def peak_memory() -> dict[str, float]:
    """Peak resident memory of this process, and peak GPU memory when there is a GPU."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    scale = 2**30 if sys.platform == "darwin" else 2**20
    memory = {"peak_rss_gb": rss / scale}
    if torch.cuda.is_available():
        memory["peak_gpu_memory_gb"] = torch.cuda.max_memory_allocated() / 2**30
    return memory


class TrainingMetrics(TrainerCallback):
    """Batched metrics per logging step; raises StageError on a NaN or infinite loss.

    Tokens are counted by the collator, when the data loader fetches a batch: one batch
    ahead of training. A logging window's tokens/s is off by that batch; the whole run's
    (`run_tokens_per_second`, from the first step to the end) is not, but for one batch per
    validation pass (dropped with the validation batches).
    """

    def __init__(self, tracker: Tracker, stats: BatchStats, main_process: bool):
        self.tracker = tracker
        self.stats = stats
        self.main_process = main_process
        self.last_time = time.perf_counter()
        self.last_logged: dict[str, float] = {}
        self.started = self.last_time
        self.run_tokens = 0  # real tokens of every training batch
        self.run_tokens_per_second: float | None = None

    def on_train_begin(self, args, state, control, **kwargs):
        self.stats.take()  # tokens counted before training started are not throughput
        self.last_time = self.started = time.perf_counter()

    def on_train_end(self, args, state, control, **kwargs):
        real, _, _ = _sum_over_processes(self.stats.take())
        self.run_tokens += real
        seconds = time.perf_counter() - self.started
        self.run_tokens_per_second = self.run_tokens / seconds if seconds > 0 else None

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
        self.run_tokens += real
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

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        # the validation batches went through the collator too: not training throughput
        # (the training batch fetched ahead goes with them: a window's figure, not the run's)
        self.stats.take()
        self.last_time = time.perf_counter()
        if self.main_process and metrics and "eval_loss" in metrics:
            loss = float(metrics["eval_loss"])
            self.tracker.log_metrics(
                {"val_loss": loss, "val_perplexity": perplexity(loss)}, step=state.global_step
            )


class BestCheckpoint(TrainerCallback, ExportableState):
    """The checkpoint of the best validation score becomes the task's model; early stopping.

    Each check offers its value of the watched metric: `val_loss` of the Trainer's evaluations
    (select_best: loss) or `val_rougeL` of RougeCheck (select_best: rougeL). On a new best the
    Trainer saves a checkpoint at this step and records it as its best (`best_global_step`,
    `best_model_checkpoint`), which spares it from checkpoint rotation and survives a resume;
    the stage loads it after training. With `patience`, training stops after that many checks
    in a row without improvement. Every process offers the same values, so all decide alike.
    The count of checks without improvement is saved in each checkpoint (ExportableState) and
    read back on a resume, so a requeued task does not get its patience afresh.
    """

    def __init__(self, metric: str, patience: int | None = None):
        self.metric = metric  # "loss" or "rougeL"
        self.patience = patience
        self.checks_without_improvement = 0
        self.stopped_early_at: int | None = None

    @property
    def name(self) -> str:
        return f"val_{self.metric}"

    def state(self) -> dict:
        return {
            "args": {"metric": self.metric, "patience": self.patience},
            "attributes": {"checks_without_improvement": self.checks_without_improvement},
        }

    def on_train_begin(self, args, state, control, **kwargs):
        # On a resume `state` is the checkpoint's; the patience itself may have been changed
        # since (a resumable change), only the count is carried on. A checkpoint from before
        # this count was saved has none: HF's save would fail on the missing entry.
        saved = state.stateful_callbacks.setdefault(type(self).__name__, self.state())
        if isinstance(saved, dict):
            count = saved.get("attributes", {}).get("checks_without_improvement", 0)
            self.checks_without_improvement = int(count)

    def offer(self, value: float, state, control) -> None:
        best = state.best_metric
        if self.metric == "loss":
            better = best is None or value < best
        else:
            better = best is None or value > best
        if better:  # a NaN is never better
            state.best_metric, state.best_global_step = value, state.global_step
            control.should_save = True  # this step's checkpoint is the one to keep
            self.checks_without_improvement = 0
            return
        self.checks_without_improvement += 1
        if self.patience and self.checks_without_improvement >= self.patience:
            control.should_training_stop = True
            self.stopped_early_at = state.global_step

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if self.metric == "loss" and metrics and "eval_loss" in metrics:
            self.offer(float(metrics["eval_loss"]), state, control)


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
        best: BestCheckpoint | None = None,
    ):
        self.every = every
        self.summarize = summarize
        self.references = references
        self.lang = lang
        self.tracker = tracker
        self.main_process = main_process
        self.all_processes = all_processes
        self.best = best  # offered each check's rougeL (select_best: rougeL)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if not self.references or state.global_step % self.every:
            return
        rouge_l = 0.0
        if self.main_process or self.all_processes:
            rouge_l = self._check(model, state) or 0.0
        if self.best is not None:
            self.best.offer(_from_main_process(rouge_l), state, control)

    def _check(self, model, state) -> float | None:
        """Summarize, score and log (main process); the rougeL, None elsewhere."""
        started = time.perf_counter()
        model.eval()
        try:
            with torch.no_grad():
                predictions = self.summarize(model)
        finally:
            model.train()
        if not self.main_process:
            return None
        scores = score_corpus(predictions, self.references, self.lang)
        metrics = {f"val_{k}": float(scores[k]) for k in ROUGE_TYPES if scores.get(k) is not None}
        metrics["val_empty_summaries"] = float(sum(not (p or "").strip() for p in predictions))
        metrics["rouge_check_seconds"] = time.perf_counter() - started
        self.tracker.log_metrics(metrics, step=state.global_step)
        return metrics.get("val_rougeL")


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
