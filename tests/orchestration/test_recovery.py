"""What `launch resubmit` changes for a task, by the cause its failure was recorded with."""

from __future__ import annotations

import pytest

from babelsum.config import Resources
from babelsum.config.schema import RetryConfig
from babelsum.recovery import escalate
from babelsum.runner import cause_of
from babelsum.state import Cause

RES = Resources(mem="16G", time="01:00:00", gpus_per_node=1)


@pytest.mark.parametrize(
    ("cause", "retry", "changes", "note"),
    [
        (Cause.OUT_OF_MEMORY, {}, {"mem": "32G"}, "memory 16G -> 32G"),
        (Cause.KILLED, {"memory_factor": 3}, {"mem": "48G"}, "memory 16G -> 48G"),
        (Cause.OUT_OF_MEMORY, {"max_mem": "24G"}, {"mem": "24G"}, "memory 16G -> 24G"),
        (Cause.OUT_OF_MEMORY, {"max_mem": "16G"}, {}, "out of memory at engine.retry.max_mem"),
        (Cause.TIME_LIMIT, {}, {"time": "02:00:00"}, "time 01:00:00 -> 02:00:00"),
        (Cause.TIME_LIMIT, {"max_time": "01:00:00"}, {}, "time limit at engine.retry.max_time"),
        # more host memory does not help a GPU; more GPUs would change the batch
        (Cause.GPU_OUT_OF_MEMORY, {}, {}, "out of GPU memory; resubmitted as it was"),
    ],
)
def test_escalation_by_cause(cause, retry, changes, note):
    step = escalate("train/qwen/full/fr", cause, RES, RetryConfig(**retry))
    assert step.changes == changes and note in step.note


def test_other_causes_change_nothing():
    for cause in (Cause.EXCEPTION, Cause.ERROR, Cause.BLOCKED, None):
        assert escalate("k", cause, RES, RetryConfig()) is None


def test_causes_of_exceptions():
    import torch

    assert cause_of(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")) == (
        Cause.GPU_OUT_OF_MEMORY
    )
    assert cause_of(MemoryError()) == Cause.OUT_OF_MEMORY
    assert cause_of(RuntimeError("DefaultCPUAllocator: can't allocate: out of memory")) == (
        Cause.OUT_OF_MEMORY
    )
    assert cause_of(RuntimeError("boom")) == Cause.EXCEPTION
