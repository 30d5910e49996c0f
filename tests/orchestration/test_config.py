"""Config validation: every problem at once, one line each, naming the field and what is allowed."""

import copy

import pytest
import yaml

from babelsum.cli import main
from babelsum.config import load_config, parse_override, validate_config
from babelsum.errors import ConfigError
from babelsum.plan import Plan, make_plan

MINIMAL = {
    "study": "t",
    "languages": ["en", "fr"],
    "models": {"qwen": {"path": "Qwen/Qwen2.5-0.5B-Instruct", "family": "qwen2"}},
    "train": {"languages": ["en"], "methods": [{"model": "qwen", "method": "full"}]},
}


def errors_of(data: dict) -> list[str]:
    with pytest.raises(ConfigError) as info:
        validate_config(data)
    return info.value.problems


def test_minimal_config_is_valid_and_plans():
    plan = make_plan(validate_config(MINIMAL))
    assert [s.name for s in plan.stages] == ["prepare", "split", "train", "evaluate", "gather"]
    assert plan.stage("train").tasks[0].key == "train/qwen/full/en"
    assert "evaluate/qwen/base/fr/same_topic" in plan.by_key()


def test_every_error_is_reported_at_once_with_its_path():
    data = yaml.safe_load(yaml.safe_dump(MINIMAL))
    data["train"]["methods"].append({"model": "qwen", "method": "qlora", "lora_r": -3, "colour": 1})
    data["resources"] = {"train": {"mem": "lots", "nodes": 0}}
    data["languages"].append("xx")
    lines = errors_of(data)
    joined = "\n".join(lines)
    assert "train.methods[1].lora_r: Input should be greater than 0 (got -3)" in joined
    assert "train.methods[1].colour: unknown key; valid keys here: model, method," in joined
    assert "resources.train.nodes: Input should be greater than 0" in joined
    assert "resources.train.mem: mem must be a positive size like 16G" in joined
    assert (
        "languages[2]: unknown language 'xx'" in joined
        or "languages: unknown language 'xx'" in joined
    )
    assert len(lines) == 5


def test_references_and_method_model_mismatch():
    data = yaml.safe_load(yaml.safe_dump(MINIMAL))
    data["models"]["mbart"] = {"path": "facebook/mbart-large-50", "family": "mbart"}
    data["train"]["methods"] = [
        {"model": "nope", "method": "full"},
        {"model": "qwen", "method": "seq2seq"},
        {"model": "mbart", "method": "full"},
    ]
    lines = errors_of(data)
    assert "train.methods[0].model: unknown model 'nope'; models: mbart, qwen" in lines
    assert any(
        line.startswith("train.methods[1].method: seq2seq needs a seq2seq model") for line in lines
    )
    assert any(line.startswith("train.methods[2].method: 'mbart' is seq2seq") for line in lines)


def test_lora_fields_rejected_for_full():
    data = yaml.safe_load(yaml.safe_dump(MINIMAL))
    data["train"]["methods"][0]["lora_r"] = 8
    assert errors_of(data) == [
        "train.methods[0]: lora_r only apply to methods qlora and lora, not 'full'"
    ]


def test_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(MINIMAL))
    config = load_config(
        path,
        [
            "train.methods[0].learning_rate=1e-4",
            "evaluate.test_sets=[novel]",
            "resources.train.gpus_per_node=4",
        ],
    )
    assert config.train.methods[0].learning_rate == 1e-4
    assert config.evaluate.test_sets == ["novel"]
    assert config.resources.for_stage("train").gpus_per_node == 4
    assert config.resources.for_stage("prepare").gpus_per_node == 0
    assert parse_override("a.b[2].c=x") == (["a", "b", 2, "c"], "x")


def test_a_train_method_can_have_its_own_resources(tmp_path):
    data = copy.deepcopy(MINIMAL)
    data["resources"] = {"train": {"gpus_per_node": 1, "time": "04:00:00"}}
    data["train"]["methods"].append(
        {"model": data["train"]["methods"][0]["model"], "method": "full", "name": "full-ds",
         "resources": {"gpus_per_node": 4, "tasks_per_node": 4}}
    )  # fmt: skip
    plan = make_plan(validate_config(data))
    groups = plan.stage("train").groups()
    assert [(r.gpus_per_node, r.processes, r.time, len(t)) for r, t in groups] == [
        (1, 1, "04:00:00", len(data["train"]["languages"])),
        (4, 4, "04:00:00", len(data["train"]["languages"])),
    ]
    assert Plan.from_json(plan.to_json()) == plan
    data["train"]["methods"][1]["resources"] = {"gpus_per_node": -1}
    with pytest.raises(ConfigError, match=r"train.methods\[1\].resources.gpus_per_node"):
        validate_config(data)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("study: [unclosed", "malformed YAML: line 1"),
        ("- just\n- a list\n", "must hold a mapping"),
        ("study: t\nlanguages: [en]\n", "train: Field required"),
    ],
)
def test_bad_files_give_one_clear_line(tmp_path, capsys, text, expected):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    assert main(["sweep", str(path), "--sweep-dir", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    assert not (tmp_path / "s").exists()


def test_missing_config_file(tmp_path, capsys):
    assert main(["sweep", str(tmp_path / "nope.yaml")]) == 2
    assert "no such config file" in capsys.readouterr().err


def test_sweep_folder_holding_another_sweep_is_refused(fake_config_file, tmp_path, capsys):
    sweep = tmp_path / "sweep"
    config = fake_config_file()
    assert main(["sweep", str(config), "--sweep-dir", str(sweep), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["sweep", str(config), "--sweep-dir", str(sweep), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "already holds sweep" in err and "launch resubmit" in err


def test_shipped_configs_are_valid_and_say_how_to_run_them():
    from pathlib import Path

    configs = sorted((Path(__file__).parents[2] / "configs").glob("*.yaml"))
    assert configs, "no configs shipped"
    for path in configs:
        first = path.read_text().splitlines()[0]
        assert first.startswith("# ") and "launch sweep" in first, path
        make_plan(load_config(path))
