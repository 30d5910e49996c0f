"""A train method of the config -> `transformers.TrainingArguments`, and what it depends on:
the precision this machine supports, the DeepSpeed JSON the method names, the optimizer's
package, and whether Liger's kernels can run here.
"""

from __future__ import annotations

import os
import socket
from importlib.util import find_spec
from pathlib import Path

import torch
from transformers import TrainingArguments

from babelsum.config import TrainMethod
from babelsum.errors import StageError


def resolve_precision(requested: str, where: str) -> str:
    """`auto` -> bf16 on a GPU that has it, else fp32 (fp16 needs loss scaling: opt in)."""
    cuda = torch.cuda.is_available()
    if requested == "auto":
        return "bf16" if cuda and torch.cuda.is_bf16_supported() else "fp32"
    if requested == "fp16" and not cuda:
        raise StageError(f"{where}.precision: fp16 needs a GPU; use bf16, fp32 or auto")
    return requested


TORCH_DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}  # precision -> dtype


def liger_kernel_notice(method: TrainMethod, where: str) -> str | None:
    """Why `use_liger_kernel` cannot be honoured on this node (the task then trains without
    Liger's kernels: the same model, more memory), or None when it can or was not asked."""
    if not method.use_liger_kernel:
        return None
    if find_spec("liger_kernel") is None:
        return (
            f"{where}.use_liger_kernel: the liger-kernel package is not installed "
            "(`pip install liger-kernel`); training without Liger's kernels"
        )
    if not torch.cuda.is_available():
        return f"{where}.use_liger_kernel: Liger's kernels need a GPU; training without them"
    return None


def training_arguments(
    method: TrainMethod,
    *,
    checkpoint_dir: Path,
    precision: str,
    deepspeed_config: dict | None,
    where: str,
    use_liger_kernel: bool = False,
) -> TrainingArguments:
    """The Trainer's arguments: checkpoints in the work folder, our own tracking only;
    validation loss every `eval_steps` when set.

    Create these before loading the model: under ZeRO-3 transformers then loads the weights
    directly into shards instead of whole into every process. Raises StageError naming the
    field for settings transformers refuses and for an optimizer whose package is missing.
    """
    if deepspeed_config:
        one_process_world()
    cuda = torch.cuda.is_available()
    optimizer = method.optimizer
    if optimizer == "adamw_torch" and cuda:
        optimizer = "adamw_torch_fused"  # one kernel for all parameters instead of a loop
    try:
        args = TrainingArguments(
            output_dir=str(checkpoint_dir),
            learning_rate=method.learning_rate,
            num_train_epochs=method.epochs,
            max_steps=method.max_steps or -1,
            per_device_train_batch_size=method.per_device_batch_size,
            gradient_accumulation_steps=method.gradient_accumulation,
            weight_decay=method.weight_decay,
            warmup_steps=method.warmup_ratio,  # a float below 1 is a fraction of all steps
            lr_scheduler_type=method.lr_scheduler,
            optim=optimizer,
            max_grad_norm=method.max_grad_norm,
            bf16=precision == "bf16",
            fp16=precision == "fp16",
            activation_checkpointing=method.gradient_checkpointing,
            activation_checkpointing_kwargs={"use_reentrant": False},
            deepspeed=deepspeed_config,
            train_sampling_strategy=(
                "group_by_length" if method.batching == "length_grouped" else "random"
            ),
            length_column_name="length",
            remove_unused_columns=False,
            label_names=["labels"],
            logging_steps=method.logging_steps,
            logging_first_step=True,
            logging_nan_inf_filter=False,  # a NaN loss must reach our callback, not be averaged out
            eval_strategy="steps" if method.eval_steps else "no",
            eval_steps=method.eval_steps,
            per_device_eval_batch_size=method.per_device_batch_size,
            prediction_loss_only=True,  # the validation loss only: no logits kept in memory
            save_strategy="steps",
            save_steps=method.save_steps,
            save_total_limit=method.save_total_limit,
            seed=method.seed,
            report_to="none",  # the task's tracker logs; see training/callbacks.py
            disable_tqdm=True,
            use_cpu=not cuda,
            ddp_find_unused_parameters=False,
            dataloader_num_workers=0,
            use_liger_kernel=use_liger_kernel,
        )
    except ValueError as exc:
        raise StageError(f"{where}: {str(exc).splitlines()[0]}") from None
    check_optimizer(args, where)
    if deepspeed_config and args.world_size > 1:
        import deepspeed

        # On CPU the Trainer sets up torch.distributed but not DeepSpeed's own communicator,
        # without which ZeRO-3 loading takes the world for one process and rejects the batch.
        deepspeed.init_distributed()
    return args


def one_process_world() -> None:
    """Make a task of one process a torch.distributed world of one, unless it is in a world.

    DeepSpeed needs a process group even for one process; without RANK, WORLD_SIZE and
    MASTER_ADDR it looks for MPI (`No module named 'mpi4py'`). The backends export these
    only for tasks of several processes.
    """
    if "RANK" in os.environ or "WORLD_SIZE" in os.environ:
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    os.environ.update(
        RANK="0",
        LOCAL_RANK="0",
        WORLD_SIZE="1",
        LOCAL_WORLD_SIZE="1",
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )


def check_optimizer(args: TrainingArguments, where: str) -> None:
    """Fail now, naming the field, when the optimizer's package is missing (torchao for
    adamw_torch_4bit, bitsandbytes for paged_adamw_8bit, ...): the Trainer would only find
    out when it creates the optimizer, after the model is loaded."""
    from transformers import Trainer

    try:
        Trainer.get_optimizer_cls_and_kwargs(args)
    except (ImportError, ValueError) as exc:
        raise StageError(f"{where}.optimizer: {args.optim.value}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
