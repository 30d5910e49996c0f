"""Config -> plan: the stages of a sweep and their tasks. Pure: no I/O, no ML imports.

A task key reads like a path and says what the task is, e.g. `train/qwen2.5-0.5b/full/fr`
or `evaluate/qwen2.5-0.5b/full-fr/de/novel`. Keys are stable across runs of the same
config, so a resubmitted sweep finds its finished tasks again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from babelsum.config import Resources, SweepConfig

BASE = "base"  # the method label of an untrained (base) model in evaluation keys


Inputs = dict[str, str | tuple[str, ...]]  # name -> the upstream task key(s) it stands for


@dataclass(frozen=True)
class Task:
    """One array element of a stage.

    `inputs` name the upstream tasks that must be done before this one runs (`split`,
    `model`, `base_predictions`; a name may stand for several keys, like the teacher shards);
    a stage reads them as `ctx.input(name)`. `optional_inputs` are read when done and shown
    as holes when not (gather renders the matrix with whatever finished).
    """

    stage: str
    index: int  # position in its stage's array
    key: str
    params: dict[str, Any] = field(default_factory=dict)
    inputs: Inputs = field(default_factory=dict)
    optional_inputs: Inputs = field(default_factory=dict)
    resources: Resources | None = None  # when not the stage's (a train method's own)
    # hash of the key, params and every config setting the task's output depends on
    # (stage_settings): an edited config changes it for exactly the tasks it concerns
    params_hash: str = ""
    # params_hash, the stage's code version and the identities of all upstream tasks: two
    # tasks with one identity produce the same output (a done one can be reused)
    identity: str = ""
    # tasks of one pack run one after the other in one job, sharing what they load (the
    # evaluation cells of one model load it once); "" runs the task in a job of its own
    pack: str = ""

    @property
    def needs(self) -> tuple[str, ...]:
        """Keys of the upstream tasks that must be done."""
        return _keys(self.inputs)

    @property
    def uses(self) -> tuple[str, ...]:
        """Keys of the upstream tasks read when they are done."""
        return _keys(self.optional_inputs)

    def to_json(self) -> dict[str, Any]:
        data = {
            "stage": self.stage,
            "index": self.index,
            "key": self.key,
            "params": self.params,
            "inputs": self.inputs,
            "optional_inputs": self.optional_inputs,
            "params_hash": self.params_hash,
            "identity": self.identity,
        }
        if self.pack:
            data["pack"] = self.pack
        if self.resources is not None:
            data["resources"] = self.resources.model_dump()
        return data

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Task:
        resources = d.get("resources")
        return cls(
            d["stage"],
            d["index"],
            d["key"],
            d["params"],
            _read_inputs(d["inputs"]),
            _read_inputs(d["optional_inputs"]),
            Resources.model_validate(resources) if resources is not None else None,
            d.get("params_hash", ""),
            d.get("identity", ""),
            d.get("pack", ""),
        )


def _keys(inputs: Inputs) -> tuple[str, ...]:
    return tuple(k for v in inputs.values() for k in ((v,) if isinstance(v, str) else v))


def _read_inputs(data: dict[str, Any]) -> Inputs:
    return {name: v if isinstance(v, str) else tuple(v) for name, v in data.items()}


@dataclass(frozen=True)
class StagePlan:
    name: str
    tasks: list[Task]
    resources: Resources

    def groups(self, tasks: list[Task] | None = None) -> list[tuple[Resources, list[Task]]]:
        """`tasks` (default: all) grouped by the resources they run with, in plan order:
        each group is one array job on SLURM."""
        groups: dict[str, tuple[Resources, list[Task]]] = {}
        for task in self.tasks if tasks is None else tasks:
            resources = task.resources or self.resources
            key = resources.model_dump_json()
            groups.setdefault(key, (resources, []))[1].append(task)
        return list(groups.values())

    def jobs(self, tasks: list[Task]) -> list[list[Task]]:
        """`tasks` as they run: the tasks of one pack together in one job, in plan order,
        every other task in a job of its own."""
        jobs: dict[str, list[Task]] = {}
        for task in tasks:
            jobs.setdefault(task.pack or task.key, []).append(task)
        return list(jobs.values())


@dataclass(frozen=True)
class Plan:
    stages: list[StagePlan]

    def stage(self, name: str) -> StagePlan:
        for s in self.stages:
            if s.name == name:
                return s
        raise KeyError(f"no stage {name!r} in this plan; stages: {[s.name for s in self.stages]}")

    def tasks(self) -> list[Task]:
        return [t for s in self.stages for t in s.tasks]

    def by_key(self) -> dict[str, Task]:
        return {t.key: t for t in self.tasks()}

    def with_task_resources(self, changes: dict[str, dict[str, Any]]) -> Plan:
        """The same plan with `changes[key]` (e.g. {"mem": "64G"}) in the resources of those
        tasks: each then runs with resources of its own (an array of its own on SLURM)."""

        def changed(task: Task, stage: StagePlan) -> Task:
            if task.key not in changes:
                return task
            own = (task.resources or stage.resources).model_dump() | changes[task.key]
            return replace(task, resources=Resources.model_validate(own))

        return Plan(
            [StagePlan(s.name, [changed(t, s) for t in s.tasks], s.resources) for s in self.stages]
        )

    def with_resources(self, stages: set[str], **changes: Any) -> Plan:
        """The same plan with `changes` (e.g. mem, time) in the resources of `stages`,
        their tasks' own resources included; checked like the config's."""
        if not changes:
            return self

        def changed(resources: Resources) -> Resources:
            return Resources.model_validate(resources.model_dump() | changes)

        return Plan(
            [
                s
                if s.name not in stages
                else StagePlan(
                    s.name,
                    [
                        t if t.resources is None else replace(t, resources=changed(t.resources))
                        for t in s.tasks
                    ],
                    changed(s.resources),
                )
                for s in self.stages
            ]
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "stages": [
                {
                    "name": s.name,
                    "resources": s.resources.model_dump(),
                    "tasks": [t.to_json() for t in s.tasks],
                }
                for s in self.stages
            ]
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Plan:
        return cls(
            [
                StagePlan(
                    s["name"],
                    [Task.from_json(t) for t in s["tasks"]],
                    Resources.model_validate(s["resources"]),
                )
                for s in d["stages"]
            ]
        )


# Bump a stage's version when a code change changes what its outputs mean: its tasks (and
# everything downstream) then no longer match done tasks of older sweeps.
STAGE_VERSIONS = {
    "prepare": 2,  # 2: records carry source_split
    "teacher": 2,  # 2: sentences split by sentencex (Lead-k)
    "split": 2,  # 2: same-topic cells per training x evaluation language
    "train": 2,  # 2: full weights saved in the training precision; validation, select_best
    "evaluate": 2,  # 2: NF4 + adapter for QLoRA; decoding, weights, health in scores.json
    "judge": 2,  # 2: base scores per article
    "gather": 2,  # 2: comparisons, overview, seeds, adjusted p-values
}


def _hash(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


# `evaluate` settings that do not change what an evaluation task writes: the plan's shape
# (languages, test sets, base models, packing) and what only gather reads (statistics)
NOT_EVALUATION = {
    "judge",
    "languages",
    "test_sets",
    "base_models",
    "cells_per_task",
    "relative_floor",
    "p_adjust",
    "health_flag_share",
}


def stage_settings(
    config: SweepConfig,
    stage: str,
    params: dict[str, Any],
    files: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The config settings a task's output depends on, besides its params and its inputs
    (an input's own settings are in that input's identity). Resources, tracking and the engine
    are not among them: they change where and how fast a task runs, not what it writes.
    `files`: the fingerprints of the files the config names (named_files.py), by field."""

    def dump(section: Any) -> Any:
        return section.model_dump(mode="json", exclude_none=True) if section is not None else None

    def prompts(role: str) -> dict[str, Any]:
        """The config's prompt set for a role, when it names one (a model's own is in its
        dump); nothing otherwise, so configs without `prompts` keep their identities."""
        choice = getattr(config.prompts, role)
        return {"prompts": choice} if choice else {}

    def named(*fields: str) -> dict[str, Any]:
        """The fingerprints of the files these fields name; nothing when none is named, so
        configs that name no file keep their identities."""
        found = {f: files[f] for f in fields if files and f in files}
        return {"files": found} if found else {}

    def prompt_field(role: Literal["teacher", "student"], model: str | None) -> str:
        return config.prompt_choice(role, model)[1]

    models = config.models
    if stage == "prepare":
        return {
            "languages": config.languages,
            "data": dump(config.data),
            "seed": config.seed,
        } | named("data.files.paths")
    if stage == "teacher":
        teacher = config.teacher
        model = teacher.model if teacher else None
        return (
            {
                "teacher": dump(teacher),
                "model": dump(models.get(model)) if model else None,
            }
            | prompts("teacher")
            | named(prompt_field("teacher", model))
        )
    if stage == "split":
        return {"languages": config.languages, "split": dump(config.split)}
    if stage == "train":
        i, method = next(
            (i, m)
            for i, m in enumerate(config.train.methods)
            if m.model == params["model"] and m.label == params["method"]
        )
        return (
            {
                "method": method.model_dump(mode="json", exclude={"resources"}),
                "model": dump(models[method.model]),
            }
            | prompts("student")
            | named(f"train.methods[{i}].deepspeed", prompt_field("student", method.model))
        )
    if stage == "evaluate":
        return (
            {
                "evaluate": config.evaluate.model_dump(mode="json", exclude=NOT_EVALUATION),
                "model": dump(models[params["model"]]),
                "seed": config.seed,
            }
            | prompts("student")
            | named(prompt_field("student", params["model"]))
        )
    if stage == "judge":
        judge = config.evaluate.judge
        return {
            "judge": dump(judge),
            "model": dump(models.get(judge.model)) if judge else None,
            "bootstrap_samples": config.evaluate.bootstrap_samples,
            "seed": config.seed,
        }
    return {"evaluate": dump(config.evaluate), "seed": config.seed}  # gather


def trained_label(method: str, train_lang: str | None, seed: int | None = None) -> str:
    """How an evaluation key names the model: `base`, `full-fr`, or `full-fr-seed1` when the
    sweep trains several seeds."""
    if method == BASE:
        return BASE
    return f"{method}-{train_lang}" + (f"-seed{seed}" if seed is not None else "")


def train_key(model: str, method: str, train_lang: str, seed: int | None = None) -> str:
    return f"train/{model}/{method}/{train_lang}" + (f"/seed{seed}" if seed is not None else "")


def evaluate_key(
    model: str,
    method: str,
    train_lang: str | None,
    eval_lang: str,
    test_set: str,
    seed: int | None = None,
) -> str:
    return f"evaluate/{model}/{trained_label(method, train_lang, seed)}/{eval_lang}/{test_set}"


def judge_key(
    model: str, method: str, train_lang: str, eval_lang: str, test_set: str, seed=None
) -> str:
    return f"judge/{model}/{trained_label(method, train_lang, seed)}/{eval_lang}/{test_set}"


def key_seed(params: dict[str, Any]) -> int | None:
    """The seed a task's key names: only when the sweep trains several seeds."""
    return params["seed"] if params.get("several_seeds") else None


def make_plan(config: SweepConfig, files: Mapping[str, str] | None = None) -> Plan:
    """Expand a config into stages of tasks, in the order they run. `files`: fingerprints
    of the files the config names (named_files.py), part of the tasks' identities."""
    stages: list[StagePlan] = []
    identities: dict[str, str] = {}

    def add(
        name: str,
        specs: list[tuple],
        own: dict[str, Resources] | None = None,
        packs: dict[str, str] | None = None,
    ):
        """specs: (key, params, inputs, optional_inputs); own: resources unlike the stage's;
        packs: key -> the pack the task runs in."""
        tasks = []
        for i, (key, params, inputs, optional) in enumerate(specs):
            params_hash = _hash([key, params, stage_settings(config, name, params, files)])
            upstream = [identities[k] for k in (*_keys(inputs), *_keys(optional))]
            identities[key] = _hash([params_hash, STAGE_VERSIONS[name], upstream])
            task = Task(name, i, key, params, inputs, optional, (own or {}).get(key))
            pack = (packs or {}).get(key, "")
            tasks.append(
                replace(task, params_hash=params_hash, identity=identities[key], pack=pack)
            )
        stages.append(StagePlan(name, tasks, config.resources.for_stage(name)))
        return tasks

    prepare = add("prepare", [("prepare", {}, {}, {})])[0]
    split_inputs: Inputs = {"prepare": prepare.key}
    if config.teacher is not None:
        n = config.teacher.shards
        shards = add(
            "teacher",
            [
                (f"teacher/shard-{i:04d}", {"shard": i, "shards": n}, {"prepare": prepare.key}, {})
                for i in range(n)
            ],
        )
        split_inputs["teacher_shards"] = tuple(t.key for t in shards)
    split = add("split", [("split", {}, split_inputs, {})])[0]

    # one train task per (model, method, language) and seed; several seeds name the seed in
    # the key, one seed reads as without seeds
    seeds = config.train.seeds
    train_specs, own = [], {}
    for m in config.train.methods:
        for lang in config.train.languages:
            for seed in seeds or [None]:
                params = {"model": m.model, "method": m.label, "train_lang": lang}
                if seed is not None:
                    params |= {"seed": seed, "several_seeds": len(seeds) > 1}
                key = train_key(m.model, m.label, lang, key_seed(params))
                train_specs.append((key, params, {"split": split.key}, {}))
                if m.resources is not None:
                    own[key] = config.resources.for_stage("train", m.resources)
    trained = add("train", train_specs, own)

    # every trained and base model on every evaluation language and test set, except the
    # same-topic cells that cannot exist: the diagonal (a same-topic article in the training
    # language would be the training article itself), and for a base model, a language that
    # no same-topic cell evaluates on
    same_topic = set(config.same_topic_pairs)
    same_topic_langs = {y for _, y in same_topic}
    eval_specs = []
    base_models = (
        sorted({m.model for m in config.train.methods}) if config.evaluate.base_models else []
    )
    for eval_lang in config.eval_languages:
        for test_set in config.evaluate.test_sets:
            for model in base_models:
                if test_set == "same_topic" and eval_lang not in same_topic_langs:
                    continue
                params = {
                    "model": model,
                    "method": BASE,
                    "train_lang": None,
                    "eval_lang": eval_lang,
                    "test_set": test_set,
                }
                key = evaluate_key(model, BASE, None, eval_lang, test_set)
                eval_specs.append((key, params, {"split": split.key}, {}))
            for t in trained:
                p = t.params
                if test_set == "same_topic" and (p["train_lang"], eval_lang) not in same_topic:
                    continue
                params = {**p, "eval_lang": eval_lang, "test_set": test_set}
                key = evaluate_key(
                    p["model"], p["method"], p["train_lang"], eval_lang, test_set, key_seed(p)
                )
                eval_specs.append((key, params, {"split": split.key, "model": t.key}, {}))
    per_task = config.evaluate.cells_per_task
    evaluated = add("evaluate", eval_specs, packs=by_model(eval_specs, "evaluate", per_task))

    gathered: Inputs = {"cells": tuple(t.key for t in evaluated)}
    if config.evaluate.judge is not None and config.evaluate.base_models:
        judge_specs = []
        for t in evaluated:
            p = t.params
            if p["method"] == BASE:
                continue
            base = evaluate_key(p["model"], BASE, None, p["eval_lang"], p["test_set"])
            key = judge_key(
                p["model"], p["method"], p["train_lang"], p["eval_lang"], p["test_set"], key_seed(p)
            )
            inputs = {"split": split.key, "predictions": t.key, "base_predictions": base}
            judge_specs.append((key, dict(p), inputs, {}))
        judged = add("judge", judge_specs, packs=by_model(judge_specs, "judge", per_task))
        gathered["judgments"] = tuple(t.key for t in judged)

    add("gather", [("gather", {}, {}, gathered)])
    return Plan([s for s in stages if s.tasks])


def by_model(specs: list[tuple], stage: str, cells_per_task: int | None = None) -> dict[str, str]:
    """key -> pack for cell tasks: one pack per evaluated model (a trained model, or a base
    model), split into parts of `cells_per_task` cells when that is set."""
    counts: dict[str, int] = {}
    packs = {}
    for key, params, _, _ in specs:
        trained = trained_label(params["method"], params["train_lang"], key_seed(params))
        model = f"{stage}/{params['model']}/{trained}"
        position = counts[model] = counts.get(model, -1) + 1
        packs[key] = model if cells_per_task is None else f"{model}#{position // cells_per_task}"
    return packs
