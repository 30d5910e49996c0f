"""The shape of the code, checked from its source (AST): no import cycles, no upward imports.

Imports inside functions count (they run too); imports under `if TYPE_CHECKING:` do not.
A unit is a subpackage (`babelsum.models`) or a top-level module (`babelsum.plan`): a cycle
between two units means neither can be read, tested or changed without the other.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

# the layers below the stages: they never import what runs them
LOWER = ("data", "models", "training", "teacher", "metrics", "lang")
UPWARD = ("stages", "backends", "runner", "cli", "sweep", "tracking")
# the login-node path: importing these must not import an ML library
LOGIN_NODE = ("cli", "config", "plan", "state", "sweep", "runner", "backends.local", "backends")
ML = ("torch", "transformers", "peft", "deepspeed", "bitsandbytes", "trl", "datasets", "mlflow")


def modules(src: Path = SRC) -> dict[str, Path]:
    found = {}
    for path in src.rglob("*.py"):
        name = ".".join(path.relative_to(src).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def _type_checking_only(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def imported(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The babelsum modules `name` imports, anywhere in the file but TYPE_CHECKING blocks."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if _type_checking_only(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, module] if module else base)
            for alias in node.names:
                full = f"{module}.{alias.name}"
                found.add(full if full in known else module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return {m for m in found if m in known and m != name}


def unit(module: str) -> str:
    """babelsum.models.loading -> models; babelsum.plan -> plan; babelsum -> babelsum."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def unit_graph(src: Path = SRC) -> dict[str, set[str]]:
    known = modules(src)
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        for other in imported(name, path, known):
            if unit(name) != unit(other):
                graph.setdefault(unit(name), set()).add(unit(other))
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected group of units (Tarjan), shortest path shown."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def strongconnect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return groups


def upward_imports(src: Path = SRC) -> list[str]:
    known = modules(src)
    problems = []
    for name, path in sorted(known.items()):
        if unit(name) in LOWER:
            problems += [
                f"{name} imports {other}"
                for other in sorted(imported(name, path, known))
                if unit(other) in UPWARD
            ]
        if unit(name) == "stages" and name != "babelsum.stages":
            problems += [
                f"{name} imports {other} (stages do not import each other)"
                for other in sorted(imported(name, path, known))
                if other.startswith("babelsum.stages.")
            ]
    return problems


def test_no_import_cycles_between_units():
    assert cycles(unit_graph()) == []


def test_lower_layers_never_import_upward():
    assert upward_imports() == []


def test_the_checks_find_what_they_look_for(tmp_path):
    """Planted: a cycle data <-> models, an upward import metrics -> runner, and stages
    importing each other."""
    package = tmp_path / "babelsum"
    for folder in ("data", "models", "metrics", "stages"):
        (package / folder).mkdir(parents=True)
        (package / folder / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "runner.py").write_text("")
    (package / "data" / "a.py").write_text("def f():\n    from babelsum.models import b\n")
    (package / "models" / "b.py").write_text("from babelsum.data.a import f\n")
    (package / "metrics" / "c.py").write_text("import babelsum.runner\n")
    (package / "stages" / "judge.py").write_text("from babelsum.stages.evaluate import X\n")
    (package / "stages" / "evaluate.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from babelsum.data import a\n"
    )
    assert cycles(unit_graph(tmp_path)) == [["data", "models"]]
    assert upward_imports(tmp_path) == [
        "babelsum.metrics.c imports babelsum.runner",
        "babelsum.stages.judge imports babelsum.stages.evaluate (stages do not import each other)",
    ]


@pytest.mark.parametrize("module", LOGIN_NODE)
def test_login_node_commands_import_no_ml_library(module):
    code = f"import sys, babelsum.{module}; print(' '.join(m for m in {ML!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
