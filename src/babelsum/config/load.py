"""Reading a sweep config: YAML, `key=value` overrides, and errors as readable lines.

Every problem in a config is reported at once, one line each, naming the field path
(`train.methods[1].lora_r`) and what is allowed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from babelsum.config.schema import SweepConfig
from babelsum.errors import ConfigError


def _loc_to_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model class that owns the field at `loc` (to list its valid keys)."""
    import typing

    model: Any = SweepConfig
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part) if isinstance(model, type) else None
        if field is None:
            return None
        ann = field.annotation
        candidates = [ann, *typing.get_args(ann)]
        nested = [a for c in candidates for a in (c, *typing.get_args(c))]
        model = next((a for a in nested if isinstance(a, type) and issubclass(a, BaseModel)), None)
    return model if isinstance(model, type) else None


def _format_errors(err: ValidationError) -> list[str]:
    lines = []
    for e in err.errors():
        loc = tuple(x for x in e["loc"] if x not in ("function-after",))
        path = _loc_to_path(loc)
        if e["type"] == "extra_forbidden":
            owner = _model_at(loc)
            valid = ", ".join(owner.model_fields) if owner else "?"
            lines.append(f"{path}: unknown key; valid keys here: {valid}")
        elif e["type"] == "value_error" and isinstance(e.get("ctx", {}).get("error"), ConfigError):
            lines.extend(e["ctx"]["error"].problems)
        else:
            msg = e["msg"].removeprefix("Value error, ")
            given = e.get("input")
            shown = "" if isinstance(given, (dict, list)) or given is None else f" (got {given!r})"
            lines.append(f"{path}: {msg}{shown}")
    return lines


def parse_override(text: str) -> tuple[list[str | int], Any]:
    """`train.methods[1].lora_r=16` -> (['train','methods',1,'lora_r'], 16)."""
    if "=" not in text:
        raise ConfigError([f"override {text!r}: expected key.sub=value"], "command line")
    key, raw = text.split("=", 1)
    parts: list[str | int] = []
    for piece in re.split(r"\.(?![^\[]*\])", key):
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)((?:\[\d+\])*)", piece)
        if not m:
            raise ConfigError([f"override {text!r}: cannot read key {key!r}"], "command line")
        parts.append(m.group(1))
        parts.extend(int(i) for i in re.findall(r"\[(\d+)\]", m.group(2)))
    parts = [int(p) if isinstance(p, str) and p.isdigit() else p for p in parts]
    return parts, yaml.safe_load(raw) if raw != "" else ""


def apply_override(data: dict, parts: list[str | int], value: Any) -> None:
    node: Any = data
    for here, nxt in zip(parts, parts[1:], strict=False):
        if isinstance(here, int):
            if not isinstance(node, list) or here >= len(node):
                raise ConfigError([f"override: index [{here}] is out of range"], "command line")
            node = node[here]
        else:
            if node.get(here) is None:
                node[here] = [] if isinstance(nxt, int) else {}
            node = node[here]
    last = parts[-1]
    if isinstance(last, int):
        if not isinstance(node, list) or last >= len(node):
            raise ConfigError([f"override: index [{last}] is out of range"], "command line")
    node[last] = value


def load_config(path: str | Path, overrides: list[str] = ()) -> SweepConfig:
    """Read, override and validate a sweep config; raise ConfigError listing every problem."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError([f"no such config file: {path}"], str(path))
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"malformed YAML: {where}{problem}"], str(path)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([f"not UTF-8 text: {exc}"], str(path)) from None
    if not isinstance(data, dict):
        raise ConfigError(
            ["the file must hold a mapping of keys (study:, languages:, ...)"], str(path)
        )
    for text in overrides:
        apply_override(data, *parse_override(text))
    return validate_config(data, str(path))


def validate_config(data: dict, source: str = "config") -> SweepConfig:
    try:
        return SweepConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_errors(err), source) from None
    except ConfigError as err:
        raise ConfigError(err.problems, source) from None


def dump_config(config: SweepConfig) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
