"""What reproduces a run: the git commit (and the diff of a dirty checkout), the package
versions, the container image's sha256, and the Hub revisions of the models and datasets.

The sweep-wide parts are found once, at submission (`record_sweep_provenance`), and kept in
sweep.json: hashing a multi-gigabyte image in every task would cost minutes, and a task must
carry what was submitted, not what the login node holds by the time it runs. Package
versions are read in each task, from the environment the task runs in (a container's).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from babelsum.config import SweepConfig
    from babelsum.state import SweepFolder

# the packages whose versions change results (tags `version.<name>`)
PACKAGES = ("babelsum", "torch", "transformers", "peft", "trl", "deepspeed", "bitsandbytes")
GIT_DIFF_FILE = "git-diff.patch"  # in the sweep folder; an artifact of the sweep's run
MAX_GIT_DIFF = 2 * 2**20  # bytes of `git diff HEAD` kept; a larger diff is cut, and says so
HASH_CHUNK = 8 * 2**20


def package_versions() -> dict[str, str]:
    """`version.<package>` tags, read from the installed distributions (nothing is imported:
    importing torch costs seconds)."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[f"version.{name}"] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[f"version.{name}"] = "not installed"
    return versions


# ---------------------------------------------------------------------- git


def _git(folder: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), *args], capture_output=True, timeout=30, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.decode("utf-8", errors="replace")


def checkout(config_source: str | None = None) -> Path | None:
    """The git checkout that reproduces a sweep: babelsum's own when it runs from one (an
    editable install of the repository), else the one holding the config file; None when
    neither is a git checkout."""
    import babelsum

    root = Path(babelsum.__file__).resolve().parents[2]
    if (root / ".git").exists():
        return root
    if config_source:
        top = _git(Path(config_source).resolve().parent, "rev-parse", "--show-toplevel")
        if top and top.strip():
            return Path(top.strip())
    return None


def git_commit(root: Path | None) -> str:
    """The commit of `root` (with -dirty for changes to tracked files)."""
    if root is None:
        return "unknown (not a git checkout)"
    sha = _git(root, "rev-parse", "HEAD")
    if not sha:
        return "unknown (git failed)"
    clean = _git(root, "diff", "--quiet", "HEAD", "--") is not None
    return sha.strip() + ("" if clean else "-dirty")


def git_diff(root: Path) -> str:
    """`git diff HEAD` of `root` (tracked files; new untracked files are not in it), cut at
    MAX_GIT_DIFF bytes."""
    diff = _git(root, "diff", "--no-color", "--no-ext-diff", "HEAD", "--") or ""
    data = diff.encode("utf-8")
    if len(data) <= MAX_GIT_DIFF:
        return diff
    kept = data[:MAX_GIT_DIFF].decode("utf-8", errors="ignore")
    return kept + f"\n# babelsum: diff cut at {MAX_GIT_DIFF} of {len(data)} bytes\n"


# ---------------------------------------------------------------------- container, Hub


def image_sha256(image: str) -> str:
    """The sha256 of a container image file; a sandbox folder or a missing file says so."""
    path = Path(image).expanduser().resolve()
    if path.is_dir():
        return "not hashed (a sandbox folder)"
    if not path.is_file():
        return f"not hashed ({path} does not exist here)"
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def hub_revisions(config: SweepConfig, config_dir: Path | None = None) -> dict[str, str]:
    """`model.<name>.revision` / `dataset.<repo>.revision` tags: the commit `launch prefetch`
    downloaded (its manifest), else the revision the config pins; nothing for local models.
    A Wikipedia sweep's `dataset.wikipedia.snapshot`: the snapshot folder and when it was
    collected."""
    from babelsum import hub

    try:
        manifest_path = hub.hub_cache(config) / hub.MANIFEST_DIR / f"{config.study}.json"
        items = json.loads(manifest_path.read_text(encoding="utf-8")).get("items", [])
    except (OSError, ValueError, AttributeError):
        items = []
    fetched = {
        (i.get("name"), i.get("repo_id"), i.get("revision")): i.get("sha")
        for i in items
        if isinstance(i, dict)
    }
    tags = {}
    for item in hub.hub_items(config):
        if item.repo_type == "model":
            tag = f"model.{item.name.removeprefix('models.')}.revision"
        else:
            tag = f"dataset.{item.repo_id}.revision"
        sha = fetched.get((item.name, item.repo_id, item.revision))
        if sha:
            tags[tag] = sha
        elif item.revision:
            tags[tag] = f"{item.revision} (as configured; not prefetched)"
    if config.data.source == "wikipedia":
        tags["dataset.wikipedia.snapshot"] = wikipedia_snapshot(config, config_dir)
    return tags


def wikipedia_snapshot(config: SweepConfig, config_dir: Path | None) -> str:
    from babelsum.data.sources.wikipedia_snapshot import exists, read_manifest, snapshot_dir
    from babelsum.errors import SourceError

    folder = snapshot_dir(config, config_dir)
    if not exists(folder):
        return f"none at {folder} (prepare asks the Wikipedia API)"
    try:
        manifest = read_manifest(folder)
    except SourceError:  # a damaged manifest is prepare's error to report, not ours
        return f"{folder} (unreadable manifest)"
    finished = manifest.get("finished", "?") if isinstance(manifest, dict) else "?"
    return f"{folder} (collected {finished})"


# ---------------------------------------------------------------------- a sweep's record


def record_sweep_provenance(folder: SweepFolder, config: SweepConfig, redact) -> dict[str, Any]:
    """Find what reproduces the sweep, once, and keep it in sweep.json (the diff of a dirty
    checkout in GIT_DIFF_FILE, masked by `redact`). What sweep.json already holds is kept."""
    meta = folder.meta()
    found: dict[str, Any] = {}
    if "git_checkout" not in meta:
        root = checkout(meta.get("config_source"))
        found["git_checkout"] = str(root) if root else None
        found["git_commit"] = git_commit(root)
        if root is not None and found["git_commit"].endswith("-dirty"):
            (folder.root / GIT_DIFF_FILE).write_text(redact(git_diff(root)), encoding="utf-8")
            found["git_diff"] = GIT_DIFF_FILE
    if config.container and "container_sha256" not in meta:
        found["container_sha256"] = image_sha256(config.container.image)
    if "hub_revisions" not in meta:
        found["hub_revisions"] = hub_revisions(config, folder.config_dir())
    if found:
        folder.update_meta(**found)
    return meta | found


def provenance_tags(meta: dict[str, Any]) -> dict[str, str]:
    """The tags of sweep.json's provenance, for the sweep's run and every task's run."""
    tags = {}
    if "git_checkout" in meta:  # found at submission (tracking on)
        tags["git_checkout"] = str(meta["git_checkout"] or "none")
    if meta.get("container_sha256"):
        tags["container_sha256"] = str(meta["container_sha256"])
    tags.update({str(k): str(v) for k, v in (meta.get("hub_revisions") or {}).items()})
    return tags
