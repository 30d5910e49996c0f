"""Values that would break the sweep folder or the batch script, or can only be mistakes."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from babelsum.backends.slurm import sbatch_preview
from babelsum.config import validate_config
from babelsum.errors import ConfigError
from tests.config.conftest import STUDY

BASE = yaml.safe_load(STUDY + "teacher: {backend: lead}\n")


def problems_of(**changes) -> list[str]:
    """The problems of the study with `changes` (dotted paths) applied."""
    data = copy.deepcopy(BASE)
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = data
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
        node[last] = value
    with pytest.raises(ConfigError) as info:
        validate_config(data)
    return info.value.problems


# ------------------------------------------------------------------ task keys unique


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"languages": ["en", "fr", "en"]}, "languages: 'en' listed twice; list each language once"),
        ({"train__languages": ["en", "en"]}, "train.languages: 'en' listed twice; list each language once"),
        ({"evaluate__languages": ["fr", "en", "fr"]}, "evaluate.languages: 'fr' listed twice; list each "
         "language once"),
        ({"evaluate__test_sets": ["novel", "novel"]}, "evaluate.test_sets: 'novel' listed twice; "
         "list each test set once"),
    ],
)  # fmt: skip
def test_a_repeated_language_or_test_set_is_an_error_naming_it(changes, expected):
    assert problems_of(**changes) == [expected]


# ------------------------------------------------------------------ names that become folders

UNSAFE = [
    "../up",
    "a/b",
    "a\\b",
    "..",
    ".hidden",
    "",
    "with space",
    "tab\there",
    "new\nline",
    "-x",
    "é",
]


@pytest.mark.parametrize("name", UNSAFE)
def test_study_model_and_method_names_are_safe_path_segments(name):
    (study,) = problems_of(study=name)
    assert study.startswith(f"study: {name!r} is not a safe name: use 1 to 100 letters, digits")
    data = copy.deepcopy(BASE)
    data["models"] = {name: data["models"]["qwen2.5-0.5b"]}
    data["train"]["methods"][0]["model"] = name
    with pytest.raises(ConfigError) as info:
        validate_config(data)
    assert info.value.problems[0].startswith(f"models: {name!r} is not a safe name")
    (method,) = problems_of(train__methods__0__name=name)
    assert method.startswith(f"train.methods[0].name: {name!r} is not a safe name")


def test_a_method_cannot_take_the_base_models_label():
    (line,) = problems_of(train__methods__0__name="base")
    assert "'base' names the untrained model in evaluation keys" in line


def test_names_as_real_studies_write_them_pass():
    data = copy.deepcopy(BASE)
    data["study"] = "paper_v2.1-final"
    data["train"]["methods"][0]["name"] = "qlora-r8"
    assert validate_config(data).train.methods[0].label == "qlora-r8"


# ------------------------------------------------------------------ sbatch lines


@pytest.mark.parametrize("field", ["partition", "account", "qos", "constraint"])
@pytest.mark.parametrize("bad", ["gpu\n#SBATCH --wrap=x", "gpu\rx", "gpu\tx", "a\x00b", "a\x1bb"])
def test_control_characters_in_resources_are_refused(field, bad):
    (line,) = problems_of(resources__train={field: bad})
    assert line.startswith(
        f"resources.train.{field}: control characters (newline, tab, ...) are not allowed"
    )


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            {"mail-user": "me@x.org\necho owned"},
            "resources.default.extra: mail-user: control characters",
        ),
        ({"bad option": 1}, "resources.default.extra: 'bad option' is not an sbatch option name"),
        ({"--gres": "gpu:1"}, "resources.default.extra: '--gres' is not an sbatch option name"),
    ],
)
def test_extra_options_are_checked_too(extra, expected):
    (line,) = problems_of(resources__default={"extra": extra})
    assert line.startswith(expected)


def sbatch_lines(extra: dict, tmp_path: Path) -> list[str]:
    data = copy.deepcopy(BASE)
    data["resources"] = {"default": {"partition": "gpu", "extra": extra}}
    config = validate_config(data)
    return sbatch_preview("train", 2, config, config.resources.for_stage("train"), tmp_path)


def test_extra_flags_without_a_value_render_as_bare_sbatch_flags(tmp_path):
    lines = sbatch_lines(
        {"exclusive": True, "requeue": True, "gres": "gpu:2", "mail_type": "END"}, tmp_path
    )
    assert "--exclusive" in lines and "--requeue" in lines
    assert "--gres=gpu:2" in lines and "--mail-type=END" in lines and "--partition=gpu" in lines
    assert not any("True" in line for line in lines)


def test_a_flag_set_to_false_is_left_out_and_requeue_false_says_no_requeue(tmp_path):
    lines = sbatch_lines({"exclusive": False, "requeue": False}, tmp_path)
    assert "--no-requeue" in lines
    assert not any(
        line.startswith(("--exclusive", "--requeue")) or "False" in line for line in lines
    )


# ------------------------------------------------------------------ sizes that can only be mistakes


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"train__methods__0__max_steps": 10**12}, "train.methods[0].max_steps: Input should be less than or equal to 100000000"),
        ({"train__methods__0__epochs": 1e9}, "train.methods[0].epochs: Input should be less than or equal to 10000"),
        ({"train__methods__0__epochs": float("inf")}, "train.methods[0].epochs: Input should be a finite number"),
        ({"train__methods__0__learning_rate": float("nan")}, "train.methods[0].learning_rate: Input should be a finite number"),
        ({"train__methods__0__per_device_batch_size": 10**6}, "train.methods[0].per_device_batch_size: Input should be less than or equal to 65536"),
        ({"train__methods__0__max_input_tokens": 10**9}, "train.methods[0].max_input_tokens: Input should be less than or equal to 1048576"),
        ({"train__methods__0__save_steps": 0}, "train.methods[0].save_steps: Input should be greater than 0"),
        ({"data__synthetic__topics": 10**9}, "data.synthetic.topics: Input should be less than or equal to 10000000"),
        ({"teacher__shards": 10**7}, "teacher.shards: Input should be less than or equal to 100000"),
        ({"teacher__max_new_tokens": 10**7}, "teacher.max_new_tokens: Input should be less than or equal to 1048576"),
        ({"evaluate__batch_size": 10**6}, "evaluate.batch_size: Input should be less than or equal to 65536"),
        ({"evaluate__max_batch_tokens": 10**10}, "evaluate.max_batch_tokens: Input should be less than or equal to 100000000"),
        ({"evaluate__bootstrap_samples": 10**8}, "evaluate.bootstrap_samples: Input should be less than or equal to 1000000"),
        ({"seed": -1}, "seed: Input should be greater than or equal to 0"),
        ({"seed": 2**40}, "seed: Input should be less than or equal to 4294967295"),
        ({"evaluate__relative_floor": float("inf")}, "evaluate.relative_floor: Input should be a finite number"),
    ],
)  # fmt: skip
def test_sizes_beyond_a_ceiling_are_refused_naming_it(changes, expected):
    (line,) = problems_of(**changes)
    assert line.startswith(expected)


def test_yaml_inf_and_nan_are_refused(write, launch):
    write(
        "s.yaml",
        STUDY.replace("method: qlora}", "method: qlora, learning_rate: .nan, epochs: .inf}"),
    )
    code, _, err = launch("config", "s.yaml")
    assert code == 2
    assert "train.methods[0].learning_rate: Input should be a finite number" in err
    assert "train.methods[0].epochs: Input should be a finite number" in err
