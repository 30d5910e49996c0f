"""Files a config names whose contents shape what its tasks write: a method's DeepSpeed JSON,
a prompt set of the researcher's own, the data files of a `files` source.

Their fingerprints are part of the tasks' identities (plan.py), so reuse never takes an
output made from an older version of such a file, and `launch resubmit` notices one edited
after submission, as it notices an edited config. Settings files (DeepSpeed JSON, templates)
are fingerprinted by content. Data files are fingerprinted by size and modification time:
hashing gigabytes on the login node at every submission would be too slow, and a copied
file, which looks changed, only reruns its tasks, never the reverse. Shipped prompt sets
are code: STAGE_VERSIONS covers them. A file that cannot be found has no fingerprint here;
preflight and the task that reads it name it.

No ML imports: this runs on the login node.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from babelsum.config import SweepConfig
from babelsum.data.sources.files import expand_paths
from babelsum.errors import UserError
from babelsum.plan import stage_settings
from babelsum.training.deepspeed_file import find_deepspeed_config


def fingerprints(config: SweepConfig, config_dir: Path | None) -> dict[str, str]:
    """The config field naming each file (`train.methods[0].deepspeed`, `prompts.student`,
    `models.X.prompts`, `data.files.paths`) -> a fingerprint of what it names now."""
    found: dict[str, str] = {}
    for i, method in enumerate(config.train.methods):
        if method.deepspeed:
            where = f"train.methods[{i}].deepspeed"
            try:
                found[where] = _content(find_deepspeed_config(method.deepspeed, config_dir, where))
            except UserError:
                pass
    for where, choice in prompt_choices(config).items():
        # imported here: `launch status` and friends need not load jinja2 and the templates
        from babelsum.models.prompts.sets import SETS, prompt_set

        try:
            prompts = prompt_set(choice, "student", config_dir, where)
        except UserError:
            continue
        root = prompts.folders[-1]  # the set's own folder; role folders are inside it
        if not root.resolve().is_relative_to(SETS.resolve()):
            found[where] = _content(root)
    if config.data.source == "files" and config.data.files is not None:
        try:
            paths = expand_paths(config.data.files.paths)
        except UserError:
            paths = []
        if paths:
            stats = [(str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in paths]
            found["data.files.paths"] = _digest(repr(stats).encode())
    return found


def prompt_choices(config: SweepConfig) -> dict[str, str]:
    """Field -> the prompt set it names, for every field of the config that names one."""
    choices = {f"prompts.{role}": getattr(config.prompts, role) for role in ("teacher", "student")}
    if config.teacher and config.teacher.prompt_dir:
        choices["teacher.prompt_dir"] = config.teacher.prompt_dir
    choices |= {f"models.{name}.prompts": spec.prompts for name, spec in config.models.items()}
    return {where: choice for where, choice in choices.items() if choice}


def edited_for_task(
    config: SweepConfig,
    stage: str,
    params: dict,
    submitted: dict[str, str] | None,
    now: dict[str, str],
) -> list[str]:
    """The fields naming a file this task reads whose version `now` is not the one
    `submitted` (a task can wait in the queue for hours while its files are edited). A file
    that cannot be read now is left to the stage, which names it; sweeps from before
    fingerprints have none."""
    if submitted is None:
        return []
    fields = stage_settings(config, stage, params, now).get("files", {}).keys()
    return sorted(f for f in fields if now.get(f) != submitted.get(f))


def changed(old: dict[str, str], new: dict[str, str]) -> list[str]:
    """The fields whose file is not what it was (or is there now, or is gone)."""
    return sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))


def _content(path: Path) -> str:
    """sha256 of a file, or of every file under a folder with its relative name."""
    if path.is_file():
        return _digest(path.read_bytes())
    parts = []
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        parts += [str(file.relative_to(path)).encode(), b"\0", file.read_bytes(), b"\0"]
    return _digest(b"".join(parts))


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()[:16]
