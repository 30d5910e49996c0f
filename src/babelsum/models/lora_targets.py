"""Check LoRA target module names against the model they are meant for.

PEFT matches a target name against the end of each module's dotted name. A name that matches
nothing is a config mistake (the original study named `Wqkv` and `out_proj`, which Phi-4-mini
does not have); we say so before training starts, listing the names that do exist.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from babelsum.errors import TargetModuleError

if TYPE_CHECKING:
    from torch import nn

ALL_LINEAR = "all-linear"


def linear_module_names(model: nn.Module) -> list[str]:
    """Short names of the model's linear layers (4-bit ones included), output head excluded."""
    from torch import nn

    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    names = {
        full.rsplit(".", 1)[-1]
        for full, module in model.named_modules()
        if isinstance(module, nn.Linear) and module is not head
    }
    return sorted(names)


def check_target_modules(model: nn.Module, names: list[str] | str) -> list[str]:
    """The LoRA target names to use for `model`; raise TargetModuleError naming any that match
    no linear layer, with the linear layer names that exist.

    `"all-linear"` (PEFT's shorthand) resolves to every linear layer but the output head.
    """
    available = linear_module_names(model)
    if names == ALL_LINEAR:
        return available
    if isinstance(names, str):
        names = [names]
    from torch import nn

    linear_full_names = [
        full for full, module in model.named_modules() if isinstance(module, nn.Linear)
    ]
    missing = [
        name
        for name in names
        if not any(full == name or full.endswith("." + name) for full in linear_full_names)
    ]
    if missing:
        raise TargetModuleError(
            f"LoRA target_modules {', '.join(missing)} match no linear layer of "
            f"{type(model).__name__}; its linear layers are: {', '.join(available)} "
            f"(or use 'all-linear')"
        )
    return list(names)
