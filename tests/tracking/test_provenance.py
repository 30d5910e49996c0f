"""What reproduces a run (tracking/provenance.py), without a server: git commit and diff,
package versions, the container image's hash found once per sweep, Hub revisions; and the
journal's checks of the records gather adds (sweep-run artifacts, registry entries)."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

import babelsum
from babelsum.config import validate_config
from babelsum.sweep import create_sweep
from babelsum.tracking import provenance
from babelsum.tracking.journal import record_problem


def git(folder: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(folder), *args], capture_output=True, text=True, check=True
    ).stdout


def make_checkout(repo: Path, dirty: bool = True) -> Path:
    """A git checkout with one commit, and (dirty) an uncommitted change to it."""
    repo.mkdir(parents=True)
    git(repo, "init", "-q")
    (repo / "study.py").write_text("LEARNING_RATE = 1e-4\n")
    git(repo, "add", "study.py")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    if dirty:
        (repo / "study.py").write_text("LEARNING_RATE = 3e-4\n")
    return repo


def test_git_commit_says_dirty_and_the_diff_is_cut_at_its_cap(tmp_path, monkeypatch):
    dirty, clean = make_checkout(tmp_path / "dirty"), make_checkout(tmp_path / "clean", False)
    head = git(dirty, "rev-parse", "HEAD").strip()
    assert provenance.git_commit(dirty) == f"{head}-dirty"
    assert provenance.git_commit(clean) == git(clean, "rev-parse", "HEAD").strip()
    assert provenance.git_commit(None) == "unknown (not a git checkout)"
    diff = provenance.git_diff(dirty)
    assert "-LEARNING_RATE = 1e-4\n+LEARNING_RATE = 3e-4" in diff
    monkeypatch.setattr(provenance, "MAX_GIT_DIFF", 40)
    cut = provenance.git_diff(dirty)
    assert cut.startswith(diff[:40])
    assert cut.endswith(f"# babelsum: diff cut at 40 of {len(diff.encode())} bytes\n")


def test_the_checkout_is_babelsums_own_else_the_configs_else_none(tmp_path, monkeypatch):
    assert (provenance.checkout() / "src" / "babelsum").is_dir()  # this repository
    # babelsum installed from a wheel: its folder is in no checkout
    installed = tmp_path / "site-packages" / "babelsum" / "__init__.py"
    monkeypatch.setattr(babelsum, "__file__", str(installed))
    repo = make_checkout(tmp_path / "study")
    (repo / "configs").mkdir()
    assert provenance.checkout(str(repo / "configs" / "study.yaml")) == repo
    assert provenance.checkout(str(tmp_path / "elsewhere" / "study.yaml")) is None
    assert provenance.checkout(None) is None


def test_package_versions_are_read_without_importing(monkeypatch):
    monkeypatch.setattr(provenance, "PACKAGES", ("babelsum", "no-such-package-babelsum"))
    versions = provenance.package_versions()
    assert versions["version.babelsum"] == babelsum.__version__
    assert versions["version.no-such-package-babelsum"] == "not installed"


def test_sweep_provenance_is_found_once_at_submission(tmp_path, monkeypatch):
    repo = make_checkout(tmp_path / "checkout")
    monkeypatch.setattr(provenance, "checkout", lambda config_source=None: repo)
    image = tmp_path / "babelsum.sif"
    image.write_bytes(b"image one")
    config = validate_config(
        {
            "study": "provenance-test",
            "languages": ["en"],
            "hf_cache": str(tmp_path / "hf"),
            "models": {
                "hub": {"path": "Qwen/Qwen2.5-0.5B-Instruct", "revision": "v1"},
                "local": {"path": str(tmp_path / "model")},
            },
            "train": {"languages": ["en"], "methods": [{"model": "hub", "method": "full"}]},
            "evaluate": {"test_sets": ["novel"]},
            "container": {"image": str(image)},
            "tracking": {"enabled": False},
        }
    )
    folder, _ = create_sweep(config, tmp_path / "sweep", "local", str(tmp_path / "c.yaml"))
    meta = provenance.record_sweep_provenance(folder, config, lambda text: text)
    assert meta["container_sha256"] == hashlib.sha256(b"image one").hexdigest()
    assert meta["git_commit"].endswith("-dirty") and meta["git_checkout"] == str(repo)
    assert "+LEARNING_RATE = 3e-4" in (folder.root / meta["git_diff"]).read_text()
    # no manifest: the revision the config pins; a local model has none
    assert meta["hub_revisions"] == {"model.hub.revision": "v1 (as configured; not prefetched)"}
    assert json.loads(folder.meta_path.read_text())["container_sha256"] == meta["container_sha256"]

    image.write_bytes(b"image two")  # a second call (a later submission) hashes nothing again
    assert (
        provenance.record_sweep_provenance(folder, config, str)["container_sha256"]
        == (meta["container_sha256"])
    )
    tags = provenance.provenance_tags(folder.meta())
    assert tags["container_sha256"] == meta["container_sha256"]
    assert tags["model.hub.revision"].startswith("v1")


def test_an_image_that_is_a_folder_or_missing_is_named_not_hashed(tmp_path):
    assert provenance.image_sha256(str(tmp_path)) == "not hashed (a sandbox folder)"
    missing = tmp_path / "gone.sif"
    assert provenance.image_sha256(str(missing)) == f"not hashed ({missing} does not exist here)"


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        (
            {"kind": "artifact", "file": "a/x", "artifact_path": None, "run": "other"},
            "an artifact run that is not 'sweep'",
        ),
        (
            {"kind": "register", "name": "x'; drop", "artifact_path": "model"},
            "a registered model name that is not letters, digits, _ . -",
        ),
        (
            {"kind": "register", "name": "s-m-full-en", "artifact_path": "../up"},
            "a register record without its artifact_path",
        ),
        (
            {"kind": "register", "name": "s-m-full-en", "artifact_path": "model", "tags": []},
            "register tags that are not a mapping",
        ),
    ],
)
def test_records_gather_adds_are_checked_like_the_others(record, problem):
    assert record_problem({"id": "w.0", "time": 1.0, **record}) == problem
    ok = {"kind": "register", "name": "s-m-full-en", "artifact_path": "model", "tags": {}}
    assert record_problem({"id": "w.1", "time": 1.0, **ok}) is None


def test_a_wikipedia_sweep_records_its_snapshot(tmp_path):
    snapshot = tmp_path / "snapshot"
    data = {
        "study": "provenance-test",
        "languages": ["en"],
        "data": {"source": "wikipedia", "wikipedia": {"snapshot": str(snapshot)}},
        "models": {"local": {"path": str(tmp_path / "model")}},
        "train": {"languages": ["en"], "methods": [{"model": "local", "method": "full"}]},
        "evaluate": {"test_sets": ["novel"]},
    }
    config = validate_config(data)
    tag = "dataset.wikipedia.snapshot"
    assert provenance.hub_revisions(config)[tag].startswith(f"none at {snapshot}")
    snapshot.mkdir()
    (snapshot / "manifest.json").write_text(json.dumps({"finished": "2026-05-01T10:00:00Z"}))
    assert provenance.hub_revisions(config)[tag] == f"{snapshot} (collected 2026-05-01T10:00:00Z)"
