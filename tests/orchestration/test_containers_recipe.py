"""The Apptainer recipe (containers/babelsum.def) and its build script.

Apptainer cannot be installed here, so the recipe is checked for what tasks rely on, and
containers/build.sh runs against the stand-in `apptainer` (tests/orchestration/conftest.py).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "containers" / "babelsum.def"
PINS = REPO / "requirements.lock"  # scripts/lock.sh writes it; tests/test_lock.py checks it


def sections(text: str) -> dict[str, str]:
    """The recipe's header (key: value lines) under "header", then each %section's body."""
    parts = re.split(r"^%(\w+)\s*$", text, flags=re.M)
    found = {"header": parts[0]}
    found.update(zip(parts[1::2], parts[2::2], strict=True))
    return found


def pinned() -> dict[str, str]:
    pins = {}
    for line in PINS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower()] = version
    return pins


def test_every_dependency_is_pinned_at_a_version_pyproject_accepts():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = pinned()
    for text in dependencies:
        requirement = Requirement(text)
        if requirement.name == "torch":  # the recipe installs torch's CUDA build itself
            continue
        assert requirement.name.lower() in pins, f"{requirement.name} is not pinned in {PINS}"
        assert requirement.specifier.contains(pins[requirement.name.lower()]), requirement
    assert "submitit" in pins


def test_recipe_installs_cuda_torch_babelsum_and_submitit():
    parts = sections(RECIPE.read_text())
    assert re.search(r"^Bootstrap: docker$", parts["header"], re.M)
    assert re.search(r"^From: nvidia/cuda:\{\{ CUDA_IMAGE \}\}$", parts["header"], re.M)
    arguments = dict(
        line.strip().split("=", 1)
        for line in parts["arguments"].splitlines()
        if "=" in line and not line.strip().startswith("#")
    )
    assert re.fullmatch(r"\d+\.\d+\.\d+", arguments["TORCH_VERSION"])
    assert arguments["TORCH_VERSION"] == pinned()["torch"]  # the CUDA build of the locked torch
    assert arguments["TORCH_INDEX"].startswith("https://download.pytorch.org/whl/cu")
    assert "devel" in arguments["CUDA_IMAGE"]  # DeepSpeed's kernels compile with nvcc
    post = parts["post"]
    assert '"torch=={{ TORCH_VERSION }}" --index-url "{{ TORCH_INDEX }}"' in post
    # the lock less torch, after the CUDA torch: its other pins hold in the image too
    assert "grep -v '^torch==' $lock > /opt/babelsum/requirements-image.txt" in post
    assert post.index("--index-url") < post.index("-r /opt/babelsum/requirements-image.txt")
    assert "--no-deps /opt/babelsum/src" in post
    files = [line.split() for line in parts["files"].splitlines() if line.strip()]
    for source, _ in files:
        assert (REPO / source).exists(), source
    assert "import babelsum, submitit" in parts["test"]


def test_recipe_environment_keeps_host_cache_settings_and_ignores_user_site():
    environment = sections(RECIPE.read_text())["environment"]
    assert "export PATH=/opt/venv/bin:$PATH" in environment
    assert "export PYTHONNOUSERSITE=1" in environment
    # host values (or --env) win over the image's defaults
    for name in ("HF_HOME", "TRITON_CACHE_DIR", "TORCHINDUCTOR_CACHE_DIR"):
        assert re.search(rf"export {name}=\${{{name}:-", environment), name
    assert "export HF_HUB_CACHE" not in environment  # follows HF_HOME unless the host sets it


def test_build_script_builds_from_the_repository_root(tmp_path, apptainer_standin):
    image = tmp_path / "images" / "babelsum.sif"
    image.parent.mkdir()
    done = subprocess.run(
        [str(REPO / "containers" / "build.sh"), str(image), "--fakeroot"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={
            "PATH": f"{apptainer_standin.bin_dir}:/usr/bin:/bin",
            "APPTAINER_STANDIN_LOG": str(apptainer_standin.log),
            "TORCH_INDEX": "https://download.pytorch.org/whl/cu126",
        },
    )
    assert done.returncode == 0, done.stderr
    (build,) = apptainer_standin.calls()
    assert build["command"] == "build"
    assert build["rest"] == [str(image), "containers/babelsum.def"]
    assert "--fakeroot" in build["argv"]
    build_args = [build["argv"][i + 1] for i, a in enumerate(build["argv"]) if a == "--build-arg"]
    assert "TORCH_INDEX=https://download.pytorch.org/whl/cu126" in build_args
    assert any(re.fullmatch(r"BABELSUM_COMMIT=([0-9a-f]{40}|unknown)", a) for a in build_args)
    assert image.exists()


def test_build_script_says_how_to_get_apptainer(tmp_path):
    done = subprocess.run(
        [str(REPO / "containers" / "build.sh")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 2
    assert "apptainer is not on PATH" in done.stderr
