"""What `launch resubmit` changes for a task by what stopped it: out of memory -> more memory,
time limit -> more time, each by a factor and within the limits of `engine.retry`.

Explicit `--mem` / `--time` win over these. A task that has failed `max_attempts` times is
left for a person to look at. No ML imports: this runs on the login node.
"""

from __future__ import annotations

from dataclasses import dataclass

from babelsum.config import Resources
from babelsum.config.schema import RetryConfig
from babelsum.config.units import megabytes, mem_text, minutes, time_text
from babelsum.state import Cause


@dataclass(frozen=True)
class Escalation:
    key: str
    changes: dict[str, str]  # resource field -> new value
    note: str  # one line for the researcher


def escalate(
    key: str, cause: Cause | None, res: Resources, retry: RetryConfig
) -> Escalation | None:
    """The resources to retry `key` with after `cause`, or None when nothing should change."""
    if cause in (Cause.OUT_OF_MEMORY, Cause.KILLED):
        if res.mem is None:
            return Escalation(key, {}, f"{key}: out of memory, but no `mem` is set to raise")
        more = megabytes(res.mem) * retry.memory_factor
        if retry.max_mem is not None:
            more = min(more, megabytes(retry.max_mem))
        new = mem_text(more)
        if megabytes(new) <= megabytes(res.mem):
            return Escalation(key, {}, f"{key}: out of memory at engine.retry.max_mem {res.mem}")
        return Escalation(key, {"mem": new}, f"{key}: memory {res.mem} -> {new} ({cause})")
    if cause == Cause.GPU_OUT_OF_MEMORY:
        # More GPUs would change the effective batch (gradient_accumulation is per process),
        # and more host memory does not help: the researcher chooses.
        return Escalation(
            key,
            {},
            f"{key}: out of GPU memory; resubmitted as it was: lower per_device_batch_size "
            "(raising gradient_accumulation to keep the batch), turn on gradient_checkpointing, "
            "or give the method more GPUs (tasks_per_node) and divide gradient_accumulation",
        )
    if cause == Cause.TIME_LIMIT:
        if res.time is None:
            return Escalation(key, {}, f"{key}: time limit, but no `time` is set to raise")
        longer = minutes(res.time) * retry.time_factor
        if retry.max_time is not None:
            longer = min(longer, minutes(retry.max_time))
        new = time_text(longer)
        if minutes(new) <= minutes(res.time):
            return Escalation(key, {}, f"{key}: time limit at engine.retry.max_time {res.time}")
        return Escalation(key, {"time": new}, f"{key}: time {res.time} -> {new} (time limit)")
    return None
