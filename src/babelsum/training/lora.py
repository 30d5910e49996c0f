"""LoRA adapters on a loaded model: `lora` on full-precision weights, `qlora` on NF4 weights."""

from __future__ import annotations

import logging

import torch
from peft import LoraConfig, PeftModel, get_peft_model, prepare_model_for_kbit_training

from babelsum.config import TrainMethod
from babelsum.errors import StageError, TargetModuleError
from babelsum.models.lora_targets import match_target_modules

log = logging.getLogger(__name__)

# Gemma 3 checkpoints carry a vision tower: `all-linear` would put adapters on it too
NOT_TEXT = r".*(vision_tower|vision_model|multi_modal_projector).*"


def add_lora(
    model: torch.nn.Module, method: TrainMethod, *, quantized: bool, where: str
) -> PeftModel:
    """Freeze the model and add trainable LoRA adapters on the method's target modules.

    Raises StageError naming the modules the model really has when a target does not exist
    (with `target_modules_match: suffix`, when none exists; the others are left out, warned).
    """
    targets = method.target_modules
    if targets != "all-linear":
        try:
            found = match_target_modules(model, targets, method.target_modules_match or "strict")
        except TargetModuleError as exc:
            raise StageError(f"{where}.target_modules: {exc}") from None
        if found.unmatched:
            log.warning("%s.target_modules: %s", where, found.notice())
        targets = found.matched
    if quantized:
        keep_cpu_weights_unpacked(model)
        # casts norms to fp32 and lets gradients flow through the frozen 4-bit layers
        model = prepare_model_for_kbit_training(
            model,
            use_gradient_checkpointing=method.gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
    config = LoraConfig(
        r=method.lora_r,
        lora_alpha=method.lora_alpha,
        lora_dropout=method.lora_dropout,
        target_modules=targets,
        exclude_modules=NOT_TEXT if getattr(model.config, "vision_config", None) else None,
        bias="none",
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)


def keep_cpu_weights_unpacked(model: torch.nn.Module) -> None:
    """Stop bitsandbytes from repacking 4-bit weights for CPU inference while training.

    On CPUs with AVX512-BF16, a 4-bit layer in eval mode (a ROUGE check, the validation
    loss) repacks its weights for a faster CPU kernel and keeps them so in training mode
    (bitsandbytes 0.50): the kernel has no backward, so the gradients that flow through the
    frozen layers change (measured on the tiny Phi3: LoRA gradients off by up to 0.6 after one
    eval pass) and a layer with a bias fails outright. GPUs never take this path.
    """
    for module in model.modules():
        if hasattr(module, "support_avx512bf16_for_cpu"):
            module.support_avx512bf16_for_cpu = False
