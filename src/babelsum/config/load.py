"""Reading a sweep config: YAML files and their includes, `key=value` overrides, and errors as
readable lines.

Several files merge in order (`launch sweep base.yaml cluster.yaml`), as do the files a config
names under `include:`; the including file's own keys come last. Mappings merge key by key;
anything else, lists included, is replaced by the later value. Overrides apply last.

Every problem is reported at once, one line each, naming the file the value came from (or
"command line"), the field path (`train.methods[1].lora_r`) and what is allowed.
"""

from __future__ import annotations

import os
import re
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from babelsum.config.schema import SweepConfig, did_you_mean
from babelsum.errors import ConfigError

COMMAND_LINE = "command line"  # where an override's values come from, in error lines

# ------------------------------------------------------------------ YAML

_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"


class ConfigLoader(yaml.SafeLoader):
    """PyYAML's safe loader without two YAML 1.1 traps:

    - a repeated key is recorded (PyYAML keeps the last one silently); see `repeated`;
    - `12:00:00` stays text (YAML 1.1 reads the sexagesimal integer 43200; `1:30.5` a float).

    yes/no/on/off stay booleans, as every other YAML 1.1 reader sees them; where text is
    expected, the error line says to quote them.
    """

    def __init__(self, stream: str):
        super().__init__(stream)
        self.repeated: list[tuple[int, str]] = []  # (line, problem)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue
            key, line = self.construct_object(key_node), key_node.start_mark.line + 1
            if key in first_line:
                first = first_line[key]
                self.repeated.append(
                    (
                        line,
                        f"line {line}: key {key!r} is repeated (first at line {first}); keep one",
                    )
                )
            first_line.setdefault(key, line)
        return super().construct_mapping(node, deep)


ConfigLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_INT, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
# PyYAML's own patterns, less their sexagesimal (base 60) alternatives
ConfigLoader.add_implicit_resolver(
    _INT,
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)
ConfigLoader.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def _construct_int(loader: ConfigLoader, node: yaml.ScalarNode) -> int:
    # Python refuses to read an integer of more than 4300 digits (ValueError, no line)
    try:
        return yaml.SafeLoader.construct_yaml_int(loader, node)
    except ValueError:
        raise yaml.constructor.ConstructorError(
            None,
            None,
            f"a number of {len(node.value)} digits is too long to be a setting",
            node.start_mark,
        ) from None


ConfigLoader.add_constructor(_INT, _construct_int)

# Anchors and aliases are not copied when read, but everything after (merging, validation)
# walks the expanded tree: a few lines of nested aliases expand to billions of values.
MAX_VALUES = 100_000


def _too_many_values(data: Any) -> bool:
    """Whether `data`, aliases expanded, holds more than MAX_VALUES values (stops early)."""
    seen, stack = 0, [data]
    while stack:
        node = stack.pop()
        seen += 1
        if seen > MAX_VALUES:
            return True
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def read_yaml(text: str, source: str) -> Any:
    """YAML text -> Python values; ConfigError naming `source` for bad YAML or repeated keys."""
    loader = None
    try:
        loader = ConfigLoader(text)  # reading the text already refuses control characters
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError([f"malformed YAML: {where}{problem}"], source) from None
    except RecursionError:
        raise ConfigError(["malformed YAML: brackets nested too deeply to read"], source) from None
    finally:
        if loader is not None:
            loader.dispose()
    if loader.repeated:  # outer mappings are built first: put them in the file's order
        raise ConfigError([problem for _, problem in sorted(loader.repeated)], source)
    if _too_many_values(data):
        raise ConfigError(
            [f"more than {MAX_VALUES:,} values once its aliases (*name) are expanded"], source
        )
    return data


# ------------------------------------------------------------------ files, includes, merging

Origins = dict[tuple, str]  # leaf path -> the file (or "command line") that set it


@dataclass
class Composed:
    """The files and overrides merged, before validation, with where each value came from."""

    data: dict = field(default_factory=dict)
    origins: Origins = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)

    @property
    def source(self) -> str:
        """Names every file: for problems no single value caused (a missing field)."""
        return ", ".join(str(f) for f in self.files) or COMMAND_LINE

    @property
    def config_dir(self) -> Path:
        """The first file's folder: relative paths in the config start there."""
        return self.files[0].resolve().parent

    def validated(self) -> SweepConfig:
        """The config they give; ConfigError listing every problem."""
        return validate_config(self.data, self.source, self.origins)


def config_paths(paths: str | Path | Sequence[str | Path]) -> list[Path]:
    """One config file or several -> a list of paths."""
    return [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]


def compose(paths: str | Path | Sequence[str | Path], overrides: Sequence[str] = ()) -> Composed:
    """Read the files in order (each with its includes), merge them, apply the overrides."""
    composed = Composed(files=config_paths(paths))
    if not composed.files:
        others = [o for o in overrides if "=" not in o][:1]
        hint = f": {others[0]!r} is not one (config files end .yaml or .yml)" if others else ""
        raise ConfigError([f"no config file given{hint}"], COMMAND_LINE)
    for path in composed.files:
        if not path.is_file():
            raise ConfigError([f"no such config file: {path}"], str(path))
        merge(composed.data, composed.origins, *read_with_includes(path, ()))
    problems = []
    for text in overrides:
        try:
            parts, value = parse_override(text)
            here = apply_override(composed.data, parts, value, text)
        except ConfigError as err:
            problems += err.problems
            continue
        _replace_origins(composed.origins, here, _origins_of(value, COMMAND_LINE, here))
    if problems:
        raise ConfigError(problems, COMMAND_LINE)
    return composed


def read_with_includes(path: Path, chain: tuple[Path, ...]) -> tuple[dict, Origins]:
    """A file merged over the files it includes (paths relative to it); a cycle is an error."""
    label, here = str(path), path.resolve()
    if here in chain:
        cycle = " -> ".join(str(p) for p in (*chain[chain.index(here) :], here))
        raise ConfigError([f"include cycle: {cycle}"], label)
    data = read_mapping(path)
    includes = data.pop("include", None)
    includes = [] if includes is None else [includes] if isinstance(includes, str) else includes
    if not isinstance(includes, list) or not all(isinstance(i, str) for i in includes):
        raise ConfigError(
            ["include: expected a list of config files, e.g. include: [../slurm/profiles/x.yaml]"],
            label,
        )
    merged: dict = {}
    origins: Origins = {}
    for name in includes:
        included = Path(os.path.normpath(path.parent / Path(name).expanduser()))
        if not included.is_file():
            raise ConfigError([f"include: no such config file: {included}"], label)
        merge(merged, origins, *read_with_includes(included, (*chain, here)))
    merge(merged, origins, data, _origins_of(data, label, ()))
    return merged, origins


def read_mapping(path: Path) -> dict:
    label = str(path)
    try:
        data = read_yaml(path.read_text(encoding="utf-8"), label)
    except UnicodeDecodeError as exc:
        raise ConfigError([f"not UTF-8 text: {exc}"], label) from None
    except OSError as exc:  # no permission, a folder, a file gone since it was found
        raise ConfigError([f"cannot read it: {exc.strerror or exc}"], label) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(["the file must hold a mapping of keys (study:, languages:, ...)"], label)
    return data


def merge(into: dict, into_origins: Origins, update: dict, update_origins: Origins) -> None:
    """Deep-merge `update` into `into`: mappings key by key, anything else replaced."""

    def walk(target: dict, new: dict, at: tuple) -> None:
        for key, value in new.items():
            here = (*at, key)
            if isinstance(value, dict) and isinstance(target.get(key), dict):
                walk(target[key], value, here)
                continue
            target[key] = value
            below = {p: s for p, s in update_origins.items() if p[: len(here)] == here}
            _replace_origins(into_origins, here, below)

    walk(into, update, ())


def _origins_of(value: Any, source: str, at: tuple) -> Origins:
    """Every leaf path under `at` in `value`, all set by `source`."""
    if isinstance(value, dict) and value:
        return {p: s for k, v in value.items() for p, s in _origins_of(v, source, (*at, k)).items()}
    if isinstance(value, list) and value:
        return {
            p: s for i, v in enumerate(value) for p, s in _origins_of(v, source, (*at, i)).items()
        }
    return {at: source}


def _replace_origins(origins: Origins, here: tuple, new: Origins) -> None:
    """`here` was replaced: forget what set it, its leaves, and an ancestor that was a leaf."""
    for path in [p for p in origins if p[: len(here)] == here or here[: len(p)] == p]:
        del origins[path]
    origins.update(new)


def origin_of(origins: Origins, path: tuple, default: str) -> str:
    """Where the value at `path` came from: the sources of the leaves under it, else under its
    nearest ancestor (a missing key: the file that wrote its section), else `default`."""
    for n in range(len(path), 0, -1):
        below = dict.fromkeys(s for p, s in origins.items() if p[:n] == path[:n])
        if below:
            return ", ".join(below)
    return default


# ------------------------------------------------------------------ overrides

_PLAIN = re.compile(r"[A-Za-z0-9_-]+")
# .name | [0] | ["name"] | ['name'] | [name] (a name holding dots: models[qwen2.5-0.5b])
_KEY_PART = re.compile(
    r"""(?:^|\.)(?P<name>[A-Za-z0-9_-]+)|\[(?P<index>\d+)\]"""
    r"""|\[(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[^\[\]"']+))\]"""
)
_KEY_HELP = (
    "write names joined by dots, indices in brackets and a name holding dots in brackets, "
    "e.g. train.methods[0].lora_r=16 or models[qwen2.5-0.5b].path=X"
)


def key_text(parts: Sequence[Any]) -> str:
    """(['models', 'qwen2.5-0.5b', 'path']) -> 'models[qwen2.5-0.5b].path': as overrides take it."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN.fullmatch(str(part)):
            out += ("." if out else "") + str(part)
        else:
            out += f"[{part}]"
    return out


def parse_key(key: str) -> list[str | int]:
    """'train.methods[1].lora_r' -> ['train', 'methods', 1, 'lora_r']; ValueError if unreadable."""
    parts: list[str | int] = []
    pos = 0
    while pos < len(key):
        m = _KEY_PART.match(key, pos)
        if not m:
            raise ValueError(key)
        index, *names = m.group("index", "name", "dq", "sq", "bare")
        parts.append(int(index) if index is not None else next(n for n in names if n is not None))
        pos = m.end()
    if not parts:
        raise ValueError(key)
    return parts


def parse_override(text: str) -> tuple[list[str | int], Any]:
    """`train.methods[1].lora_r=16` -> (['train', 'methods', 1, 'lora_r'], 16).

    The value is read as YAML (`[en, fr]`, `null`, `'text'`). An empty value is refused: it
    is almost always a shell variable that was not set; `key=null` unsets, `key="''"` is ''.
    """
    if "=" not in text:
        raise ConfigError(
            [f"{text!r}: expected key=value, or a config file ending .yaml"], COMMAND_LINE
        )
    key, raw = text.split("=", 1)
    if not key.strip():
        raise ConfigError([f"{text!r}: nothing before '='; {_KEY_HELP}"], COMMAND_LINE)
    try:
        parts = parse_key(key)
    except ValueError:
        raise ConfigError(
            [f"{text!r}: cannot read the key {key!r}; {_KEY_HELP}"], COMMAND_LINE
        ) from None
    if not raw.strip():
        unset = f"write {key}=null to unset it, or \"{key}=''\" for empty text"
        raise ConfigError(
            [f"{text!r}: no value after '='; {unset}"],
            COMMAND_LINE,
        )
    try:
        value = read_yaml(raw, COMMAND_LINE)
    except ConfigError as err:
        problem = err.problems[0].removeprefix("malformed YAML: ")
        raise ConfigError(
            [f"{text!r}: the value is not valid YAML: {problem}"], COMMAND_LINE
        ) from None
    return parts, value


def apply_override(
    data: dict, parts: list[str | int], value: Any, text: str | None = None
) -> tuple:
    """Set `value` at `parts` in `data`, creating the mappings on the way; ConfigError (one line,
    quoting the override) where the path runs into a list, a value or an index that is not there.
    Returns the path taken: list indices as ints, mapping keys as text."""
    text = text or f"{key_text(parts)}=..."
    node: Any = data
    taken: list[str | int] = []
    for depth, part in enumerate(parts):
        where = key_text(parts[:depth]) or "the config"
        last = depth == len(parts) - 1
        if isinstance(node, list):
            index = int(part) if str(part).isdigit() else None
            if index is None:
                raise ConfigError(
                    [f"{text!r}: {where} is a list; index it like {where}[0]"], COMMAND_LINE
                )
            if index >= len(node):
                raise ConfigError(
                    [f"{text!r}: index [{index}] is out of range: {where} has {len(node)} entries"],
                    COMMAND_LINE,
                )
            if last:
                node[index] = value
            node = node[index]
            taken.append(index)
        elif isinstance(node, dict):
            key = str(part) if isinstance(part, int) else part
            if key not in node:
                _no_dotted_name(node, parts, depth, text)
            if last:
                node[key] = value
            elif node.get(key) is None:
                node[key] = [] if isinstance(parts[depth + 1], int) else {}
            node = node[key]
            taken.append(key)
        else:
            raise ConfigError(
                [f"{text!r}: {where} is {node!r}, not a mapping; it has no key {part!r}"],
                COMMAND_LINE,
            )
    return tuple(taken)


def _no_dotted_name(node: dict, parts: list, depth: int, text: str) -> None:
    """A dotted key that splits a name holding dots (`models.qwen2.5-0.5b.path`): say so."""
    rest = ".".join(str(p) for p in parts[depth:])
    for name in node:
        if isinstance(name, str) and "." in name and (rest == name or rest.startswith(name + ".")):
            fixed = key_text([*parts[:depth], name]) + rest[len(name) :]
            raise ConfigError(
                [f"{text!r}: {name!r} holds dots; put it in brackets: {fixed}=..."], COMMAND_LINE
            )


# ------------------------------------------------------------------ validation, error lines

# pydantic's names for the member of a union or a validator, which it adds to an error's loc
_TAG = re.compile(r"[\w-]+\[.*\]|str|int|float|bool|none|constrained-\w+")


def _data_loc(loc: tuple, data: Any) -> tuple[tuple, bool]:
    """An error's loc as a path into the data, without pydantic's tags; whether it had tags."""
    out, node, tagged = [], data, False
    for part in loc:
        if _holds(node, part):
            node = node[part]
        elif isinstance(part, str) and _TAG.fullmatch(part):
            tagged = True
            continue
        else:
            node = None
        out.append(part)
    return tuple(out), tagged


def _holds(node: Any, part: Any) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and part < len(node)


def _type_at(ann: Any, part: Any) -> Any:
    """The type of what `part` holds inside a value of type `ann` (None if unknown)."""
    for a in _members(ann):
        if isinstance(a, type) and issubclass(a, BaseModel) and part in a.model_fields:
            return a.model_fields[part].annotation
        origin, args = typing.get_origin(a), typing.get_args(a)
        if origin is list and isinstance(part, int):
            return args[0]
        if origin is dict and isinstance(part, str):
            return args[1]
    return None


def _members(ann: Any) -> list:
    """`ann` with its unions, Optionals and Annotated unwrapped."""
    if typing.get_origin(ann) is typing.Annotated:
        return _members(typing.get_args(ann)[0])
    if typing.get_origin(ann) in (typing.Union, types.UnionType):
        return [m for a in typing.get_args(ann) for m in _members(a)]
    return [ann]


def _model_at(loc: tuple) -> type[BaseModel] | None:
    """The pydantic model that owns the key at `loc` (to list its valid keys)."""
    ann: Any = SweepConfig
    for part in loc[:-1]:
        ann = _type_at(ann, part)
        if ann is None:
            return None
    return next(
        (a for a in _members(ann) if isinstance(a, type) and issubclass(a, BaseModel)), None
    )


def _problems(err: ValidationError, data: dict) -> list[tuple[tuple | None, str]]:
    """(path, line) per problem; the members of a union that failed share one line."""
    found: dict[tuple, list[str]] = {}
    lines: list[tuple[tuple | None, str]] = []
    for e in err.errors():
        loc, tagged = _data_loc(e["loc"], data)
        path = key_text(loc) or "(top level)"
        given = e.get("input")
        if e["type"] == "extra_forbidden":
            owner = _model_at(loc)
            valid = list(owner.model_fields) if owner else []
            hint = did_you_mean(loc[-1], valid)
            lines.append((loc, f"{path}: unknown key{hint}; valid keys here: {', '.join(valid)}"))
        elif e["type"] == "value_error" and isinstance(e.get("ctx", {}).get("error"), ConfigError):
            lines += [(_line_loc(line), line) for line in e["ctx"]["error"].problems]
        elif tagged:
            found.setdefault(loc, []).append(e["msg"].removeprefix("Input should be "))
            if len(found[loc]) == 1:
                lines.append((loc, ""))  # filled in below, once every member is known
        else:
            msg = _clipped(e["msg"].removeprefix("Value error, "))
            shown = "" if isinstance(given, (dict, list)) or given is None else f" (got {given!r})"
            shown = _clipped(shown)
            if isinstance(given, bool) and e["type"] in ("string_type", "literal_error"):
                shown += (
                    "; YAML reads unquoted yes/no/on/off/true/false as booleans: quote the text, "
                    "e.g. 'no'"
                )
            lines.append((loc, f"{path}: {msg}{shown}"))
    return [
        (loc, line or f"{key_text(loc)}: Input should be {' or '.join(found[loc])}")
        for loc, line in lines
    ]


def _clipped(text: str, limit: int = 300) -> str:
    """A value quoted in an error line, cut to fit one readable line (a 10 MB pasted text)."""
    return text if len(text) <= limit else f"{text[:limit]}..."


def _line_loc(line: str) -> tuple | None:
    """The path a cross-check's line starts with ('train.methods[0].model: ...')."""
    try:
        return tuple(parse_key(line.split(": ", 1)[0]))
    except ValueError:
        return None


def validate_config(
    data: dict, source: str = "config", origins: Origins | None = None
) -> SweepConfig:
    """Validate merged config data; ConfigError listing every problem, each with its source."""
    try:
        return SweepConfig.model_validate(data)
    except ValidationError as err:
        problems = _problems(err, data)
    except ConfigError as err:
        problems = [(_line_loc(line), line) for line in err.problems]
    sources = [
        source if path is None or origins is None else origin_of(origins, path, source)
        for path, _ in problems
    ]
    lines = [
        line + _bracket_hint(path, line, src)
        for (path, line), src in zip(problems, sources, strict=True)
    ]
    raise ConfigError(lines, source, sources) from None


def _bracket_hint(path: tuple | None, line: str, source: str) -> str:
    """An unknown key under `models` from an override may be a model name split at its dots."""
    unknown = path and line.startswith(f"{key_text(path)}: unknown key")
    if unknown and source == COMMAND_LINE and path[0] == "models" and len(path) > 2:
        name = ".".join(str(p) for p in path[1:])  # the pieces the dots split it into
        return f"; a model name holding dots goes in brackets: models[{name}].path=..."
    return ""


def load_config(
    paths: str | Path | Sequence[str | Path], overrides: Sequence[str] = ()
) -> SweepConfig:
    """Read one config file or several (merged in order), apply overrides, validate; raise
    ConfigError listing every problem."""
    return compose(paths, overrides).validated()


def dump_config(config: SweepConfig) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
