"""A train method of the config -> `transformers.TrainingArguments`, and what it depends on:
the precision this machine supports and the DeepSpeed JSON the method names.
"""

from __future__ import annotations

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


def training_arguments(
    method: TrainMethod,
    *,
    checkpoint_dir: Path,
    precision: str,
    deepspeed_config: dict | None,
    where: str,
) -> TrainingArguments:
    """The Trainer's arguments: checkpoints in the work folder, our own tracking only.

    Create these before loading the model: under ZeRO-3 transformers then loads the weights
    directly into shards instead of whole into every process.
    """
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
            save_strategy="steps",
            save_steps=method.save_steps,
            save_total_limit=method.save_total_limit,
            seed=method.seed,
            report_to="none",  # the task's tracker logs; see training/callbacks.py
            disable_tqdm=True,
            use_cpu=not cuda,
            ddp_find_unused_parameters=False,
            dataloader_num_workers=0,
        )
    except ValueError as exc:
        raise StageError(f"{where}: {str(exc).splitlines()[0]}") from None
    if deepspeed_config and args.world_size > 1:
        import deepspeed

        # On CPU the Trainer sets up torch.distributed but not DeepSpeed's own communicator,
        # without which ZeRO-3 loading takes the world for one process and rejects the batch.
        deepspeed.init_distributed()
    return args
