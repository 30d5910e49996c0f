"""Configs that compose: includes, several files, and where each value came from."""

from __future__ import annotations

import pytest
import yaml

from babelsum import api
from babelsum.config import SweepConfig, load_config, validate_config
from babelsum.errors import ConfigError
from tests.config.conftest import STUDY, error_lines

PROFILE = """\
resources:
  default: {partition: gpu, mem: 64G, time: "04:00:00"}
  train: {gpus_per_node: 1, mem: 96G}
languages: [en, fr, de]
"""


def problems(*paths, overrides=()) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(list(paths), list(overrides))
    return str(info.value).splitlines()


def test_include_merges_deeply_the_including_file_last_and_lists_replaced(write):
    write("profiles/gpu.yaml", PROFILE)
    study = write(
        "study.yaml",
        "include: [profiles/gpu.yaml]\n" + STUDY + "resources:\n  train: {mem: 128G}\n",
    )
    config = load_config(study)
    train = config.resources.for_stage("train")
    assert (train.partition, train.mem, train.gpus_per_node) == ("gpu", "128G", 1)
    assert config.resources.for_stage("prepare").mem == "64G"
    assert config.languages == ["en", "fr"]  # the study's list replaces the profile's


def test_include_paths_are_relative_to_the_including_file_and_includes_nest(
    write, tmp_path, monkeypatch
):
    write("slurm/base.yaml", "resources:\n  default: {partition: cpu, qos: low}\n")
    write("slurm/gpu.yaml", "include: base.yaml\nresources:\n  default: {partition: gpu}\n")
    study = write("studies/s.yaml", "include: [../slurm/gpu.yaml]\n" + STUDY)
    monkeypatch.chdir(tmp_path / "slurm")  # not where the study is
    default = load_config(study).resources.default
    assert (default.partition, default.qos) == ("gpu", "low")


def test_an_include_cycle_is_an_error_naming_the_files(write, launch):
    write("a.yaml", "include: [b.yaml]\n" + STUDY)
    write("b.yaml", "include: [c.yaml]\n")
    write("c.yaml", "include: [a.yaml]\n")
    code, out, err = launch("config", "a.yaml")
    assert code == 2 and out == ""
    (line,) = error_lines(err)
    assert "include cycle:" in line and line.index("a.yaml") < line.index("b.yaml") < line.index(
        "c.yaml"
    )
    assert line.rstrip().endswith("a.yaml")
    write("self.yaml", "include: self.yaml\n")
    assert "include cycle" in problems("self.yaml")[0]


def test_the_same_file_included_twice_is_no_cycle(write):
    write("res.yaml", "resources:\n  default: {qos: q}\n")
    write("x.yaml", "include: [res.yaml]\n")
    study = write("s.yaml", "include: [res.yaml, x.yaml]\n" + STUDY)
    assert load_config(study).resources.default.qos == "q"


@pytest.mark.parametrize(
    ("include", "expected"),
    [
        ("include: [missing.yaml]", "s.yaml: include: no such config file: missing.yaml"),
        ("include: {a: 1}", "s.yaml: include: expected a list of config files"),
    ],
)
def test_bad_includes(write, include, expected):
    write("s.yaml", include + "\n" + STUDY)
    (line,) = problems("s.yaml")
    assert line.startswith(expected)


def test_errors_name_the_file_or_the_command_line_that_set_the_value(write):
    write("profile.yaml", "resources:\n  default: {mem: lots}\n")
    write("base.yaml", "include: [profile.yaml]\n" + STUDY)
    write(
        "later.yaml", "train:\n  methods:\n    - {model: qwen2.5-0.5b, method: qlora, lora_r: -1}\n"
    )
    lines = problems("base.yaml", "later.yaml", overrides=["evaluate.batch_size=0"])
    assert (
        "profile.yaml: resources.default.mem: mem must be a positive size like 16G or 4000M (got 'lots')"
        in lines
    )
    assert "later.yaml: train.methods[0].lora_r: Input should be greater than 0 (got -1)" in lines
    assert "command line: evaluate.batch_size: Input should be greater than 0 (got 0)" in lines
    # a value a later file or the command line replaced is no longer blamed on the first file
    lines = problems("base.yaml", overrides=["resources.default.mem=lots2"])
    assert lines == [
        "command line: resources.default.mem: mem must be a positive size like 16G or 4000M (got 'lots2')"
    ]


def test_a_missing_field_names_every_file(write):
    write("a.yaml", "study: t\nlanguages: [en]\n")
    write("b.yaml", "seed: 1\n")
    assert problems("a.yaml", "b.yaml") == ["a.yaml, b.yaml: train: Field required"]


def test_several_files_merge_in_order_on_the_command_line(write, launch):
    write("study.yaml")
    write("cluster.yaml", PROFILE)
    write("short.yaml", "resources:\n  default: {time: 30}\n")
    code, out, err = launch("config", "study.yaml", "cluster.yaml", "short.yaml", "seed=7")
    assert code == 0, err
    resolved = yaml.safe_load(out)
    assert resolved["languages"] == ["en", "fr", "de"]  # cluster.yaml came after study.yaml
    assert resolved["resources"]["default"]["time"] == "00:30:00"
    assert resolved["resources"]["default"]["partition"] == "gpu"
    assert resolved["seed"] == 7
    assert (
        validate_config(resolved).model_dump()
        == load_config(["study.yaml", "cluster.yaml", "short.yaml"], ["seed=7"]).model_dump()
    )


def test_sweep_takes_several_files_and_overrides_after_its_options(write, launch):
    write("study.yaml")
    write("cluster.yaml", PROFILE)
    code, out, err = launch(
        "sweep", "study.yaml", "--dry-run", "cluster.yaml", "--no-preflight", "study=composed",
        "--executor", "slurm", "train.languages=[de]",
    )  # fmt: skip
    assert code == 0, err
    assert "study 'composed'" in out and "train/qwen2.5-0.5b/qlora/de" in out
    assert "--partition=gpu" in out


def test_api_takes_one_file_or_several(write):
    write("study.yaml")
    write("more.yaml", "seed: 3\n")
    assert api.dry_run("study.yaml")[0].seed == 0
    config, plan = api.dry_run(["study.yaml", "more.yaml"], ["study=x"])
    assert (config.seed, config.study) == (3, "x") and plan.tasks()


def test_launch_config_prints_what_the_sweep_would_record(write, launch):
    write("study.yaml")
    code, out, err = launch("config", "study.yaml", "models[qwen2.5-0.5b].path=/data/qwen")
    assert code == 0 and err == ""
    resolved = yaml.safe_load(out)
    assert resolved["models"]["qwen2.5-0.5b"]["path"] == "/data/qwen"
    assert resolved["train"]["methods"][0]["lora_r"] == 16  # defaults filled in
    code, out, err = launch("config", "study.yaml", "train.methods[0].lora_r=-2", "colour=red")
    assert code == 2 and out == ""
    assert error_lines(err) == [
        "error: command line: train.methods[0].lora_r: Input should be greater than 0 (got -2)",
        "error: command line: colour: unknown key; valid keys here: "
        + ", ".join(SweepConfig.model_fields),
    ]
