"""Checks before anything is queued: every problem a task would hit on a compute node hours
later, found on the login node now, one line each and all at once.

`launch sweep` runs them (and `--dry-run` prints them); `--no-preflight` skips them. What
cannot be checked here (no `sinfo`, no accounting database) is skipped with a notice.
"""

from __future__ import annotations

import getpass
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from babelsum.config import SweepConfig
from babelsum.errors import UserError


class PreflightError(UserError):
    """Problems found before submission; nothing was submitted."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(f"preflight: {p}" for p in problems))


@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)  # each stops the submission
    notices: list[str] = field(default_factory=list)  # checks that could not run here


def findings(config: SweepConfig, config_dir: Path | None, executor: str) -> Findings:
    """Everything found, one line per problem; no problem: the sweep can be submitted."""
    found = Findings()
    if config.offline:
        from babelsum.data.sources.wikipedia_snapshot import offline_problems
        from babelsum.hub import check_offline

        found.problems += check_offline(config)
        found.problems += offline_problems(config, config_dir)
    found.problems += deepspeed_files(config, config_dir)
    found.problems += optimizers(config)
    lora_targets(config, found)
    found.problems += prompt_sets(config, config_dir)
    if executor == "slurm":
        slurm_resources(config, found)
    return found


def check(config: SweepConfig, config_dir: Path | None, executor: str) -> Findings:
    """Raise PreflightError listing every problem; the notices otherwise."""
    found = findings(config, config_dir, executor)
    if found.problems:
        raise PreflightError(found.problems)
    return found


# ---------------------------------------------------------------- training files and models


def deepspeed_files(config: SweepConfig, config_dir: Path | None) -> list[str]:
    """Each method's DeepSpeed file exists, parses, and its batch settings agree."""
    from babelsum.errors import StageError
    from babelsum.training.deepspeed_file import (
        batch_conflicts,
        find_deepspeed_config,
        read_deepspeed_config,
    )

    problems = []
    for i, method in enumerate(config.train.methods):
        if not method.deepspeed:
            continue
        where = f"train.methods[{i}]"
        try:
            deepspeed = read_deepspeed_config(
                find_deepspeed_config(method.deepspeed, config_dir, where), where
            )
        except StageError as exc:
            problems.append(str(exc))
            continue
        processes = config.resources.for_stage("train", method.resources).processes
        problems += batch_conflicts(deepspeed, method, processes, where)
    return problems


def optimizers(config: SweepConfig) -> list[str]:
    """Each method's `optimizer` is a name transformers knows. Whether its package (torchao,
    bitsandbytes...) is installed is checked by the task, where it runs: the login node's
    environment may not be the compute nodes'."""
    if all(m.optimizer == "adamw_torch" for m in config.train.methods):
        return []  # the default: no need to import transformers
    from transformers.training_args import OptimizerNames

    from babelsum.config.schema import did_you_mean

    known = [o.value for o in OptimizerNames]
    return [
        f"train.methods[{i}].optimizer: unknown optimizer {m.optimizer!r}"
        f"{did_you_mean(m.optimizer, known)}; transformers knows: {', '.join(known)}"
        for i, m in enumerate(config.train.methods)
        if m.optimizer not in known
    ]


def lora_targets(config: SweepConfig, found: Findings) -> None:
    """Named LoRA target modules exist in the model, checked on its skeleton (meta device:
    its config, no weights); with `target_modules_match: suffix`, those that match nothing are
    a notice. A model that cannot be found is reported by the offline check or, online, here."""
    methods = [
        (i, m)
        for i, m in enumerate(config.train.methods)
        if m.method in ("lora", "qlora") and isinstance(m.target_modules, list)
    ]
    if not methods:
        return
    from babelsum.errors import ModelLoadError, TargetModuleError
    from babelsum.models.loading import model_skeleton
    from babelsum.models.lora_targets import match_target_modules

    skeletons: dict[str, object] = {}
    for i, method in methods:
        where = f"train.methods[{i}].target_modules"
        try:
            if method.model not in skeletons:
                skeletons[method.model] = model_skeleton(config.models[method.model])
            match = match_target_modules(
                skeletons[method.model], method.target_modules, method.target_modules_match
            )
        except TargetModuleError as exc:
            found.problems.append(f"{where}: {exc}")
        except ModelLoadError as exc:
            if not config.offline:  # offline, check_offline has named the missing model
                found.problems.append(f"models.{method.model}: {exc}")
        else:
            if match.unmatched:
                found.notices.append(f"{where}: {match.notice()}")


def prompt_sets(config: SweepConfig, config_dir: Path | None) -> list[str]:
    """Every chosen prompt set exists and renders, for each study language, what its models
    read (chat messages, a plain prompt or a seq2seq input)."""
    from babelsum.models.prompts.check import prompt_set_problems

    return prompt_set_problems(config, config_dir)


# ---------------------------------------------------------------- the cluster


def slurm_resources(config: SweepConfig, found: Findings) -> None:
    """Partitions, accounts, QoS and constraints exist, and so do the GPUs asked for."""
    from babelsum.config import STAGES

    used = {stage: config.resources.for_stage(stage) for stage in STAGES} | {
        f"train.methods[{i}]": config.resources.for_stage("train", m.resources)
        for i, m in enumerate(config.train.methods)
        if m.resources is not None
    }
    partitions = _partitions()
    if partitions is None:
        found.notices.append("partitions, constraints and GPUs not checked: `sinfo` is not here")
    accounts, qos = _associations()
    if accounts is None:
        found.notices.append(
            "accounts and QoS not checked: `sacctmgr` cannot be asked (no accounting here)"
        )
    for where, res in used.items():
        field_of = f"resources.{where}" if where in STAGES else f"{where}.resources"
        if partitions is not None:
            if res.partition and res.partition not in partitions:
                known = ", ".join(sorted(partitions)) or "(none)"
                found.problems.append(
                    f"{field_of}.partition: no partition {res.partition!r}; partitions: {known}"
                )
            elif res.gpus_per_node:
                most = max(
                    (
                        p.gpus
                        for name, p in partitions.items()
                        if name == res.partition or (not res.partition and p.default)
                    ),
                    default=0,
                )
                if res.gpus_per_node > most:
                    found.problems.append(
                        f"{field_of}.gpus_per_node: {res.gpus_per_node} asked, but the nodes of "
                        f"partition {res.partition or '(default)'} have at most {most}"
                    )
            features = {f for p in partitions.values() for f in p.features}
            for wanted in _constraint_features(res.constraint):
                if wanted not in features:
                    found.problems.append(
                        f"{field_of}.constraint: no node has feature {wanted!r}; features: "
                        f"{', '.join(sorted(features)) or '(none)'}"
                    )
        if accounts is not None and res.account and res.account not in accounts:
            found.problems.append(
                f"{field_of}.account: you ({getpass.getuser()}) have no account "
                f"{res.account!r}; yours: {', '.join(sorted(accounts)) or '(none)'}"
            )
        if qos is not None and res.qos and res.qos not in qos:
            found.problems.append(
                f"{field_of}.qos: no QoS {res.qos!r}; QoS: {', '.join(sorted(qos)) or '(none)'}"
            )
    found.problems = list(dict.fromkeys(found.problems))  # stages sharing a value: once


@dataclass(frozen=True)
class Partition:
    default: bool
    gpus: int  # the most GPUs one of its nodes has
    features: frozenset[str]


def _run(command: list[str]) -> str | None:
    if shutil.which(command[0]) is None:
        return None
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout if out.returncode == 0 else None


def _partitions() -> dict[str, Partition] | None:
    text = _run(["sinfo", "-h", "-o", "%P|%G|%f"])
    if text is None:
        return None
    found: dict[str, Partition] = {}
    for line in text.splitlines():
        name, gres, features = (line.split("|") + ["", ""])[:3]
        default = name.endswith("*")
        name = name.rstrip("*")
        gpus = max((int(n) for n in re.findall(r"gpu(?::[^:,()]+)?:(\d+)", gres)), default=0)
        old = found.get(name, Partition(default, 0, frozenset()))
        found[name] = Partition(
            old.default or default,
            max(old.gpus, gpus),
            old.features | {f for f in features.split(",") if f and f != "(null)"},
        )
    return found


def _associations() -> tuple[set[str] | None, set[str] | None]:
    accounts = _run(
        ["sacctmgr", "-n", "-P", "show", "assoc", f"user={getpass.getuser()}", "format=account"]
    )
    qos = _run(["sacctmgr", "-n", "-P", "show", "qos", "format=name"])
    return (
        None if accounts is None else {a.strip() for a in accounts.splitlines() if a.strip()},
        None if qos is None else {q.strip() for q in qos.splitlines() if q.strip()},
    )


def _constraint_features(constraint: str | None) -> list[str]:
    """The feature names of a SLURM constraint expression ("a100&ib", "[v100|a100]")."""
    if not constraint:
        return []
    return [f for f in re.split(r"[&|,\[\]()*\d\s]+", constraint) if f]
