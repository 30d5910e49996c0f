"""The plan, specified: which tasks a config expands to, their keys, and what each one reads.

A key reads like what the task is and stays stable across runs of the same config (a
resubmitted sweep finds its finished tasks by key). Every task names its inputs: a stage asks
`ctx.input("model")` and never rebuilds another task's key.
"""

from __future__ import annotations

import copy
import os

import pytest

from babelsum.config import validate_config
from babelsum.named_files import fingerprints
from babelsum.plan import Plan, make_plan

CONFIG = {
    "study": "plan-spec",
    "languages": ["en", "fr", "de"],
    "teacher": {"backend": "lead", "shards": 3},
    "models": {
        "qwen": {"path": "unused", "family": "qwen2"},
        "mbart": {"path": "unused", "family": "mbart"},
    },
    "train": {
        "languages": ["en", "fr"],
        "methods": [
            {"model": "qwen", "method": "full", "resources": {"gpus_per_node": 4}},
            {"model": "qwen", "method": "qlora", "name": "qlora-r8", "lora_r": 8},
            {"model": "mbart", "method": "seq2seq"},
        ],
    },
    "evaluate": {"languages": ["en", "de"], "judge": {"model": "qwen"}},
}


@pytest.fixture(scope="module")
def plan() -> Plan:
    return make_plan(validate_config(CONFIG))


def keys(plan: Plan, stage: str) -> list[str]:
    return [t.key for t in plan.stage(stage).tasks]


def test_stages_run_in_order_and_tasks_know_their_array_index(plan):
    assert [s.name for s in plan.stages] == [
        "prepare",
        "teacher",
        "split",
        "train",
        "evaluate",
        "judge",
        "gather",
    ]
    for stage in plan.stages:
        assert [t.index for t in stage.tasks] == list(range(len(stage.tasks)))
        assert all(t.stage == stage.name for t in stage.tasks)


def test_key_formats(plan):
    assert keys(plan, "prepare") == ["prepare"]
    assert keys(plan, "teacher") == [f"teacher/shard-{i:04d}" for i in range(3)]
    assert keys(plan, "split") == ["split"]
    # model / method label (the `name` when given) / training language
    assert keys(plan, "train") == [
        "train/qwen/full/en",
        "train/qwen/full/fr",
        "train/qwen/qlora-r8/en",
        "train/qwen/qlora-r8/fr",
        "train/mbart/seq2seq/en",
        "train/mbart/seq2seq/fr",
    ]
    evaluated = set(keys(plan, "evaluate"))
    assert "evaluate/qwen/full-fr/de/novel" in evaluated  # model / method-trainlang / lang / set
    assert "evaluate/qwen/base/de/same_topic" in evaluated  # base models: no training language
    assert "judge/qwen/qlora-r8-en/en/novel" in set(keys(plan, "judge"))
    assert keys(plan, "gather") == ["gather"]


def test_the_evaluation_matrix_covers_every_model_language_and_test_set(plan):
    cells = {
        (p["model"], p["method"], p["train_lang"], p["eval_lang"], p["test_set"])
        for p in (t.params for t in plan.stage("evaluate").tasks)
    }
    trained = {
        (m, x, lang)
        for m, x in (("qwen", "full"), ("qwen", "qlora-r8"), ("mbart", "seq2seq"))
        for lang in ("en", "fr")
    }
    expected = {
        (m, x, lang, e, s)
        for m, x, lang in trained
        for e in ("en", "de")  # evaluate.languages, not the sweep's
        for s in ("novel", "same_topic")
        # no same-topic cell on the diagonal: it would be the training article itself
        if not (s == "same_topic" and e == lang)
    } | {
        (m, "base", None, e, s)
        for m in ("mbart", "qwen")
        for e in ("en", "de")
        for s in ("novel", "same_topic")
    }
    assert cells == expected
    assert len(plan.stage("evaluate").tasks) == len(expected)
    # the judge compares each trained cell with its base cell
    assert len(plan.stage("judge").tasks) == len([c for c in expected if c[1] != "base"])


def test_a_base_model_is_evaluated_on_same_topic_articles_only_where_a_cell_exists():
    config = copy.deepcopy(CONFIG) | {"train": CONFIG["train"] | {"languages": ["en"]}}
    evaluated = set(keys(make_plan(validate_config(config)), "evaluate"))
    assert "evaluate/qwen/base/de/same_topic" in evaluated  # the en>de cell
    assert "evaluate/qwen/base/en/same_topic" not in evaluated  # no cell evaluates on en
    assert "evaluate/qwen/full-en/en/same_topic" not in evaluated


def test_several_seeds_give_a_train_task_each_and_name_the_seed():
    config = copy.deepcopy(CONFIG)
    config["train"]["seeds"] = [0, 1]
    plan = make_plan(validate_config(config))
    assert keys(plan, "train")[:4] == [
        "train/qwen/full/en/seed0",
        "train/qwen/full/en/seed1",
        "train/qwen/full/fr/seed0",
        "train/qwen/full/fr/seed1",
    ]
    by_key = plan.by_key()
    assert by_key["train/qwen/full/en/seed1"].params["seed"] == 1
    assert by_key["evaluate/qwen/full-fr-seed1/de/novel"].inputs["model"] == (
        "train/qwen/full/fr/seed1"
    )
    assert "judge/qwen/full-fr-seed1/de/novel" in by_key
    # each seed's model is loaded once for its cells
    assert by_key["evaluate/qwen/full-fr-seed1/de/novel"].pack == "evaluate/qwen/full-fr-seed1"
    # one seed reads as without seeds: the same keys, the seed in the params
    config["train"]["seeds"] = [7]
    one = make_plan(validate_config(config))
    assert keys(one, "train") == [k.removesuffix("/seed0") for k in keys(plan, "train")[::2]]
    assert one.by_key()["train/qwen/full/en"].params["seed"] == 7


def test_every_task_names_its_inputs(plan):
    by_key = plan.by_key()
    shards = tuple(keys(plan, "teacher"))
    assert by_key["teacher/shard-0001"].inputs == {"prepare": "prepare"}
    assert by_key["split"].inputs == {"prepare": "prepare", "teacher_shards": shards}
    assert by_key["train/qwen/full/en"].inputs == {"split": "split"}
    assert by_key["evaluate/qwen/base/de/novel"].inputs == {"split": "split"}
    assert by_key["evaluate/qwen/full-fr/de/novel"].inputs == {
        "split": "split",
        "model": "train/qwen/full/fr",
    }
    assert by_key["judge/qwen/full-fr/de/novel"].inputs == {
        "split": "split",
        "predictions": "evaluate/qwen/full-fr/de/novel",
        "base_predictions": "evaluate/qwen/base/de/novel",
    }
    gather = by_key["gather"]
    assert gather.inputs == {}  # gather runs with holes: it needs nothing
    assert set(gather.optional_inputs) == {"cells", "judgments"}
    assert gather.optional_inputs["cells"] == tuple(keys(plan, "evaluate"))
    assert gather.optional_inputs["judgments"] == tuple(keys(plan, "judge"))
    # every named input is a task of an earlier stage
    order = {s.name: i for i, s in enumerate(plan.stages)}
    for task in plan.tasks():
        for upstream in (*task.needs, *task.uses):
            assert order[by_key[upstream].stage] < order[task.stage]


def test_a_method_with_its_own_resources_goes_out_as_its_own_array(plan):
    groups = plan.stage("train").groups()
    assert [(r.gpus_per_node, [t.key for t in tasks]) for r, tasks in groups] == [
        (4, ["train/qwen/full/en", "train/qwen/full/fr"]),
        (0, keys(plan, "train")[2:]),
    ]


def test_the_plan_survives_plan_json_and_resource_changes_are_a_new_plan(plan):
    assert Plan.from_json(plan.to_json()) == plan
    longer = plan.with_resources({"train"}, time="08:00:00", mem="64G")
    assert longer is not plan and plan.stage("train").resources.time == "24:00:00"  # default
    assert longer.stage("train").resources.time == "08:00:00"
    assert all(t.resources.mem == "64G" for t in longer.stage("train").tasks if t.resources)
    assert longer.stage("evaluate") == plan.stage("evaluate")


def test_same_config_same_keys_and_hashes():
    first, second = (make_plan(validate_config(CONFIG)) for _ in range(2))
    assert [(t.key, t.params_hash) for t in first.tasks()] == [
        (t.key, t.params_hash) for t in second.tasks()
    ]


def test_without_a_teacher_or_judge_those_stages_are_absent():
    data = {**CONFIG, "teacher": None, "evaluate": {"test_sets": ["novel"]}}
    plan = make_plan(validate_config(data))
    assert [s.name for s in plan.stages] == ["prepare", "split", "train", "evaluate", "gather"]
    assert plan.by_key()["split"].inputs == {"prepare": "prepare"}
    assert {t.params["test_set"] for t in plan.stage("evaluate").tasks} == {"novel"}


def _hashes(data: dict) -> dict[str, tuple[str, str]]:
    return {t.key: (t.params_hash, t.identity) for t in make_plan(validate_config(data)).tasks()}


def test_an_edited_setting_changes_the_hash_of_the_tasks_it_concerns_and_what_they_feed():
    before = _hashes(CONFIG)
    edited = copy.deepcopy(CONFIG)
    edited["train"]["methods"][1]["learning_rate"] = 1e-4
    after = _hashes(edited)
    changed = {k for k in before if before[k][0] != after[k][0]}
    assert changed == {"train/qwen/qlora-r8/en", "train/qwen/qlora-r8/fr"}
    # identities also change downstream: the evaluation and judging of those models, gather
    moved = {k for k in before if before[k][1] != after[k][1]}
    assert moved == changed | {k for k in before if "qlora-r8" in k} | {"gather"}


def test_resources_and_tracking_change_no_hash():
    edited = copy.deepcopy(CONFIG)
    edited["resources"] = {"train": {"mem": "64G", "time": "08:00:00"}}
    edited["train"]["methods"][0]["resources"] = {"gpus_per_node": 8}
    edited["tracking"] = {"enabled": False}
    assert _hashes(edited) == _hashes(CONFIG)


def test_statistics_settings_change_only_gather():
    edited = copy.deepcopy(CONFIG)
    edited["evaluate"] |= {"relative_floor": 0.2, "p_adjust": "bh", "health_flag_share": 0.5}
    before, after = _hashes(CONFIG), _hashes(edited)
    assert {k for k in before if before[k] != after[k]} == {"gather"}


def test_a_data_change_reaches_every_identity_but_only_the_prepare_hash():
    edited = copy.deepcopy(CONFIG) | {"data": {"synthetic": {"topics": 99}}}
    before, after = _hashes(CONFIG), _hashes(edited)
    assert {k for k in before if before[k][0] != after[k][0]} == {"prepare"}
    assert all(before[k][1] != after[k][1] for k in before)


def test_the_student_prompts_reach_train_and_evaluate_hashes_but_not_the_data():
    before = _hashes(CONFIG)
    after = _hashes(copy.deepcopy(CONFIG) | {"prompts": {"student": "paper"}})
    moved = {k.split("/")[0] for k in before if before[k][0] != after[k][0]}
    assert moved == {"train", "evaluate"}
    assert _hashes(copy.deepcopy(CONFIG) | {"prompts": {}}) == before  # unset: as before


def _file_hashes(data: dict, config_dir) -> dict[str, tuple[str, str]]:
    """Hashes with the fingerprints of the files the config names, as `launch sweep` makes."""
    config = validate_config(data)
    plan = make_plan(config, fingerprints(config, config_dir))
    return {t.key: (t.params_hash, t.identity) for t in plan.tasks()}


def test_files_the_config_names_are_part_of_the_identities_of_the_tasks_that_read_them(
    tmp_path,
):
    """An edited DeepSpeed JSON changes that method's train tasks (reuse must not take their
    old outputs); a touched data file changes prepare; a config naming no file keeps its
    identities."""
    assert _file_hashes(CONFIG, tmp_path) == _hashes(CONFIG)
    deepspeed = tmp_path / "zero.json"
    deepspeed.write_text('{"zero_optimization": {"stage": 2}}')
    data = tmp_path / "articles.jsonl"
    data.write_text("{}\n")
    config = copy.deepcopy(CONFIG)
    config["train"]["methods"][0]["deepspeed"] = "zero.json"  # from the config's folder
    config["data"] = {"source": "files", "files": {"paths": [str(data)]}}
    before = _file_hashes(config, tmp_path)

    deepspeed.write_text('{"zero_optimization": {"stage": 3}}')
    after = _file_hashes(config, tmp_path)
    assert {k for k in before if before[k][0] != after[k][0]} == {
        "train/qwen/full/en",
        "train/qwen/full/fr",
    }
    assert before["evaluate/qwen/base/en/novel"] == after["evaluate/qwen/base/en/novel"]

    os.utime(data, ns=(1, 1))  # rewritten: another modification time
    touched = _file_hashes(config, tmp_path)
    assert {k for k in after if after[k][0] != touched[k][0]} == {"prepare"}
    assert all(after[k][1] != touched[k][1] for k in after)


def test_a_file_the_config_names_that_is_missing_has_no_fingerprint(tmp_path):
    config = copy.deepcopy(CONFIG)
    config["train"]["methods"][0]["deepspeed"] = "nowhere.json"
    config["prompts"] = {"student": "no-such-folder", "teacher": "paper"}  # paper: shipped
    assert fingerprints(validate_config(config), tmp_path) == {}  # preflight names them


def test_the_cells_of_one_model_run_as_one_job_unless_split_by_cells_per_task(plan):
    evaluate = plan.stage("evaluate")
    jobs = evaluate.jobs(evaluate.tasks)
    # one job per evaluated model: 6 trained models and 2 base models; 4 cells each, but
    # 3 for a model trained on en (en has no same-topic cell for it)
    assert len(jobs) == 8
    assert sorted(len(job) for job in jobs) == [3, 3, 3, 4, 4, 4, 4, 4]
    assert all(
        len({(t.params["model"], t.params["method"], t.params["train_lang"]) for t in job}) == 1
        for job in jobs
    )
    assert [job[0].pack for job in jobs[:3]] == [
        "evaluate/mbart/base",
        "evaluate/qwen/base",
        "evaluate/qwen/full-en",
    ]
    judge = plan.stage("judge")
    assert len(judge.jobs(judge.tasks)) == 6  # the judge model loaded once per trained model
    assert [len(j) for j in plan.stage("train").jobs(plan.stage("train").tasks)] == [1] * 6

    split = make_plan(
        validate_config({**CONFIG, "evaluate": {**CONFIG["evaluate"], "cells_per_task": 3}})
    )
    sizes = sorted(len(job) for job in split.stage("evaluate").jobs(split.stage("evaluate").tasks))
    assert sizes == [1] * 5 + [3] * 8
    # a subset (a resubmission) keeps the packs of the tasks it holds
    some = [t for t in evaluate.tasks if t.params["eval_lang"] == "de"]
    assert sorted(len(job) for job in evaluate.jobs(some)) == [2] * 8
