"""Check LoRA target module names against the model they are meant for.

PEFT matches a target name against the end of each module's dotted name. A name that matches
nothing is a config mistake (the original study named `Wqkv` and `out_proj`, which Phi-4-mini
does not have); we say so before training starts, listing the names that do exist. To rerun
the study as it ran (`target_modules_match: suffix`), such names are left out with a warning,
as PEFT silently left them out; a list that matches nothing at all is still an error.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class TargetMatch:
    """How LoRA target names met a model's linear layers (PEFT's rule: a name matches a layer
    whose dotted name is the name or ends with "." + name)."""

    model: str  # the model's class
    matched: list[str]  # names that match at least one linear layer
    unmatched: list[str]  # names that match none
    available: list[str]  # short names of the model's linear layers

    def notice(self) -> str:
        """What suffix matching did, for the warning of `target_modules_match: suffix`."""
        return (
            f"LoRA target_modules matched by suffix in {self.model}: "
            f"{', '.join(self.matched)}; matched nothing (left out, as PEFT leaves them out): "
            f"{', '.join(self.unmatched)}; its linear layers are: {', '.join(self.available)}"
        )


def match_target_modules(
    model: nn.Module, names: list[str] | str, match: str = "strict"
) -> TargetMatch:
    """Which target names match a linear layer of `model`.

    Raises TargetModuleError, naming the names that match nothing and the linear layer names
    that exist, when any name matches nothing (`match="strict"`), or when none matches at all
    (`match="suffix"`: the others are left out, as PEFT's suffix matching leaves them out).
    `"all-linear"` (PEFT's shorthand) matches every linear layer but the output head.
    """
    from torch import nn

    available = linear_module_names(model)
    kind = type(model).__name__
    if names == ALL_LINEAR:
        return TargetMatch(kind, available, [], available)
    if isinstance(names, str):
        names = [names]
    linear_full_names = [
        full for full, module in model.named_modules() if isinstance(module, nn.Linear)
    ]
    found = [
        name
        for name in names
        if any(full == name or full.endswith("." + name) for full in linear_full_names)
    ]
    missing = [name for name in names if name not in found]
    if missing and (match == "strict" or not found):
        hint = "" if match == "strict" else " (none matches, even as a suffix)"
        raise TargetModuleError(
            f"LoRA target_modules {', '.join(missing)} match no linear layer of {kind}{hint}; "
            f"its linear layers are: {', '.join(available)} (or use 'all-linear')"
        )
    return TargetMatch(kind, found, missing, available)


def check_target_modules(model: nn.Module, names: list[str] | str) -> list[str]:
    """The LoRA target names to use for `model`; raise TargetModuleError naming any that match
    no linear layer, with the linear layer names that exist.

    `"all-linear"` (PEFT's shorthand) resolves to every linear layer but the output head.
    """
    return match_target_modules(model, names).matched
