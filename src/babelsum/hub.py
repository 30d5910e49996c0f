"""`launch prefetch CONFIG`: every model and dataset a sweep needs, downloaded once on the login node.

Compute nodes often have no internet. `prefetch` downloads each model under `models:` and the
Hugging Face dataset of `data.hf` into the Hub cache (`hf_cache`, else HF_HUB_CACHE), and
writes a manifest of what it got (repo id -> commit sha) beside the cache. Tasks then run with
`offline: true` (HF_HUB_OFFLINE=1), and `check_offline(config)` lists what the cache lacks
before anything is submitted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from babelsum.config import SweepConfig
from babelsum.errors import PrefetchError
from babelsum.files import write_json

# Formats no babelsum task loads; a model repo may hold gigabytes of each.
MODEL_IGNORE = [
    "*.gguf",
    "*.onnx",
    "*.onnx_data",
    "onnx/*",
    "*.h5",
    "*.msgpack",
    "*.ot",
    "*.tflite",
    "*.mlmodel",
    "coreml/*",
    "openvino/*",
    "original/*",
]
MANIFEST_DIR = "babelsum-manifests"


@dataclass(frozen=True)
class HubItem:
    """One repository a sweep reads from the Hugging Face Hub."""

    name: str  # where the config names it: models.qwen, data.hf
    repo_id: str
    repo_type: str  # model or dataset
    revision: str | None

    @property
    def ignore_patterns(self) -> list[str] | None:
        return MODEL_IGNORE if self.repo_type == "model" else None

    def download(self, cache_dir: Path, local_files_only: bool = False) -> Path:
        """The item's snapshot folder in `cache_dir`, downloaded unless `local_files_only`."""
        import huggingface_hub

        return Path(
            huggingface_hub.snapshot_download(
                self.repo_id,
                repo_type=self.repo_type,
                revision=self.revision,
                cache_dir=str(cache_dir),
                ignore_patterns=self.ignore_patterns,
                local_files_only=local_files_only,
            )
        )

    def shown(self) -> str:
        return f"{self.name} ({self.repo_id}{'@' + self.revision if self.revision else ''})"


def looks_local(name: str) -> bool:
    """A folder (or a `tiny:FAMILY` model built locally) rather than a Hub id (same rule as
    models/loading.py)."""
    return (
        name.startswith(("/", ".", "~", "tiny:"))
        or name.count("/") > 1
        or Path(name).expanduser().exists()
    )


def hub_items(config: SweepConfig) -> list[HubItem]:
    items = [
        HubItem(f"models.{name}", spec.path, "model", spec.revision)
        for name, spec in config.models.items()
        if not looks_local(spec.path)
    ]
    hf = config.data.hf
    if config.data.source == "hf" and hf is not None and not looks_local(hf.name):
        items.append(HubItem("data.hf", hf.name, "dataset", hf.revision))
    unique = {(i.repo_id, i.repo_type, i.revision): i for i in reversed(items)}
    return [i for i in items if unique[(i.repo_id, i.repo_type, i.revision)] is i]


def hub_cache(config: SweepConfig, cache_dir: str | None = None) -> Path:
    from huggingface_hub import constants

    return Path(cache_dir or config.hf_cache or constants.HF_HUB_CACHE).expanduser()


def prefetch(config: SweepConfig, cache_dir: str | None = None) -> Path:
    """Download every Hub model and dataset of `config`; return the manifest's path.

    The manifest lists what was downloaded even when some items failed; then PrefetchError
    names each failure and what to do about it.
    """

    cache = hub_cache(config, cache_dir)
    manifest: dict = {
        "study": config.study,
        "cache_dir": str(cache),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "models": {},
        "datasets": {},
        "items": [],
    }
    problems = []
    for item in hub_items(config):
        try:
            folder = item.download(cache)
        except Exception as exc:  # each failure is reported below, by name
            problems.append(f"{item.shown()}: {download_problem(exc)}")
            continue
        sha = Path(folder).name
        manifest[f"{item.repo_type}s"][item.repo_id] = sha
        manifest["items"].append(
            {
                "name": item.name,
                "repo_id": item.repo_id,
                "repo_type": item.repo_type,
                "revision": item.revision,
                "sha": sha,
                "path": str(folder),
            }
        )
    path = cache / MANIFEST_DIR / f"{config.study}.json"
    write_json(path, manifest)
    if problems:
        raise PrefetchError(
            f"{len(problems)} of {len(hub_items(config))} downloads failed "
            f"(manifest of the rest: {path}):\n  " + "\n  ".join(problems)
        )
    return path


def download_problem(exc: Exception) -> str:
    """What went wrong with a download, and what to do, in one line."""
    from huggingface_hub.errors import (
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if isinstance(exc, GatedRepoError):
        return "gated: accept its terms on huggingface.co, then log in with `hf auth login`"
    if isinstance(exc, RepositoryNotFoundError):
        return "not on the Hugging Face Hub (or private: log in with `hf auth login`)"
    if isinstance(exc, RevisionNotFoundError):
        return "no such revision; check `revision` in the config"
    if isinstance(exc, LocalEntryNotFoundError):
        return "the Hub cannot be reached (run prefetch where there is internet, without HF_HUB_OFFLINE)"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip(": ")


def cached_snapshot(item: HubItem, cache_dir: Path) -> Path | None:
    """The complete cached snapshot of `item`, or None; never touches the network."""
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return item.download(cache_dir, local_files_only=True)
    except LocalEntryNotFoundError:  # also raised for an interrupted (incomplete) download
        return None


def dataset_source(name: str, revision: str | None = None, cache_dir: str | None = None) -> str:
    """What to give `datasets.load_dataset` for the Hub dataset `name`.

    Offline (HF_HUB_OFFLINE=1) it is the dataset's cached snapshot folder, when there is one:
    datasets' own offline lookup only finds datasets it prepared itself, not the Hub cache
    that `prefetch` fills. Otherwise (online, or not cached) it is `name` unchanged.
    """
    import os

    if os.environ.get("HF_HUB_OFFLINE") != "1" or looks_local(name):
        return name
    from huggingface_hub import constants

    cache = Path(cache_dir or constants.HF_HUB_CACHE)
    snapshot = cached_snapshot(HubItem("data.hf", name, "dataset", revision), cache)
    return str(snapshot) if snapshot is not None else name


def check_offline(config: SweepConfig, cache_dir: str | None = None) -> list[str]:
    """What the sweep would need from the network, one line each; empty when it can run offline."""
    cache = hub_cache(config, cache_dir)
    missing = [
        f"{item.shown()} is not in the Hugging Face cache {cache}; run `launch prefetch CONFIG` "
        "on a node with internet"
        for item in hub_items(config)
        if cached_snapshot(item, cache) is None
    ]
    for name, spec in config.models.items():
        if (
            looks_local(spec.path)
            and not spec.path.startswith("tiny:")
            and not Path(spec.path).expanduser().is_dir()
        ):
            missing.append(f"models.{name}: no model folder at {spec.path}")
    # Wikipedia articles are not on the Hub: preflight checks their snapshot
    # (data/sources/wikipedia_snapshot.py), which `launch prefetch` writes too.
    return missing
