"""requirements.lock: the pinned environment that scripts/setup.sh and the container install.

CI builds .venv fresh from the lock (scripts/test.sh runs scripts/setup.sh in a new clone), so
`test_this_environment_has_the_locked_versions` is the check that a fresh install from the
lock gives the locked versions. The other tests keep the lock in step with pyproject.toml:
refresh it with `bash scripts/lock.sh` when they fail.
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, distribution, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "requirements.lock"
REFRESH = "refresh it with `bash scripts/lock.sh`"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked() -> dict[str, str]:
    pins = {}
    for number, line in enumerate(LOCK.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        name, equals, pin = line.partition("==")
        assert equals and pin.strip(), f"{LOCK.name} line {number}: not NAME==VERSION: {line}"
        assert canonical(name) not in pins, f"{LOCK.name} line {number}: {name} pinned twice"
        pins[canonical(name)] = pin.strip()
    return pins


def project_requirements() -> list[Requirement]:
    """pyproject's dependencies and dev extra: what setup.sh installs."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return [
        Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]
    ]


def wanted(requirement: Requirement, extras: set[str]) -> bool:
    """Whether this environment needs `requirement` (its marker, for the extras asked)."""
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": e}) for e in extras | {""})


def closure(roots: list[Requirement]) -> set[str]:
    """Every package `roots` pull in here, from the installed packages' metadata."""
    seen: dict[str, set[str]] = {}
    todo = [(r.name, set(r.extras)) for r in roots if wanted(r, set())]
    while todo:
        name, extras = todo.pop()
        name = canonical(name)
        if name in seen and extras <= seen[name]:
            continue
        seen[name] = seen.get(name, set()) | extras
        try:
            requires = distribution(name).requires or []
        except PackageNotFoundError:
            pytest.fail(f"{name} is not installed: run `bash scripts/setup.sh`")
        for text in requires:
            requirement = Requirement(text)
            if wanted(requirement, extras):
                todo.append((requirement.name, set(requirement.extras)))
    return set(seen)


def test_the_lock_pins_every_dependency_at_a_version_pyproject_accepts():
    pins = locked()
    for requirement in project_requirements():
        name = canonical(requirement.name)
        assert name in pins, f"{requirement.name} is not in {LOCK.name}: {REFRESH}"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{LOCK.name} pins {name}=={pins[name]}, pyproject asks {requirement}: {REFRESH}"
        )


def test_the_lock_holds_what_pyproject_pulls_in_and_nothing_else():
    needed = closure(project_requirements())
    pins = set(locked())
    assert sorted(needed - pins) == [], f"not pinned: {REFRESH}"
    assert sorted(pins - needed - {"pip"}) == [], f"pinned but not needed: {REFRESH}"


def test_the_lock_keeps_the_cpu_torch_and_no_cuda_packages():
    pins = locked()
    assert re.fullmatch(r"\d+\.\d+\.\d+", pins["torch"])  # the public version, any build
    cuda = [n for n in pins if n.startswith("nvidia-") or n == "triton"]
    assert cuda == []


def test_this_environment_has_the_locked_versions():
    wrong = []
    for name, pin in locked().items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = "not installed"
        # ==2.13.0 accepts the local build 2.13.0+cpu, as pip does
        if installed == "not installed" or not SpecifierSet(f"=={pin}").contains(
            installed, prereleases=True
        ):
            wrong.append(f"{name}: {installed}, locked {pin}")
    assert wrong == [], "run `bash scripts/setup.sh` to install the lock"


def test_setup_installs_from_the_lock_and_reinstalls_when_it_changes():
    setup = (REPO / "scripts" / "setup.sh").read_text()
    assert "LOCK=requirements.lock" in setup
    assert re.search(r'^want=.*cat pyproject\.toml "\$LOCK"', setup, re.M)  # the stamp
    assert '-r "$LOCK"' in setup
    assert "--no-deps -e ." in setup
