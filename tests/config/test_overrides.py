"""`key=value` overrides: every name reachable (brackets), one clear line per mistake."""

from __future__ import annotations

import pytest

from babelsum.config import load_config, parse_override
from babelsum.errors import ConfigError
from tests.config.conftest import error_lines


@pytest.mark.parametrize(
    "override",
    [
        "models[qwen2.5-0.5b].path=/data/qwen",
        'models["qwen2.5-0.5b"].path=/data/qwen',
        "models['qwen2.5-0.5b'].path=/data/qwen",
    ],
)
def test_a_name_holding_dots_is_reached_with_brackets(write, override):
    config = load_config(write("s.yaml"), [override])
    assert config.models["qwen2.5-0.5b"].path == "/data/qwen"


def test_keys_read_as_before():
    assert parse_override("a.b[2].c=x") == (["a", "b", 2, "c"], "x")
    assert parse_override("train.methods.0.lora_r=8") == (["train", "methods", "0", "lora_r"], 8)
    assert parse_override("languages=[en, fr]") == (["languages"], ["en", "fr"])
    assert parse_override("x=a=b") == (["x"], "a=b")


def test_an_index_written_with_dots_still_reaches_a_list_entry(write):
    config = load_config(write("s.yaml"), ["train.methods.0.lora_r=8"])
    assert config.train.methods[0].lora_r == 8


def test_a_dotted_name_that_splits_a_model_name_suggests_brackets(write, launch):
    write("s.yaml")
    code, _, err = launch("config", "s.yaml", "models.qwen2.5-0.5b.path=X")
    assert code == 2
    assert error_lines(err) == [
        "error: command line: 'models.qwen2.5-0.5b.path=X': 'qwen2.5-0.5b' holds dots; "
        "put it in brackets: models[qwen2.5-0.5b].path=..."
    ]
    # a new model written with dots: the unknown keys it makes say the same
    code, _, err = launch("config", "s.yaml", "models.phi3.5-mini.path=X")
    assert code == 2 and "models[phi3.5-mini].path" in err and "brackets" in err


BAD = [
    ("key=", "command line: 'key=': no value after '='; write key=null to unset it"),
    ("a.b=", "command line: 'a.b=': no value after '='; write a.b=null to unset it"),
    ("=v", "command line: '=v': nothing before '='; write names joined by dots"),
    ("languages=[en", "command line: 'languages=[en': the value is not valid YAML: line 1, column 4"),
    ("resources.default={mem: 1G, mem: 2G}", "is not valid YAML: line 1: key 'mem' is repeated"),
    ("a..b=1", "command line: 'a..b=1': cannot read the key 'a..b'"),
    ("models[qwen=1", "cannot read the key 'models[qwen'"),
    ("just-a-word", "command line: 'just-a-word': expected key=value, or a config file ending .yaml"),
    ("study.name=x", "command line: 'study.name=x': study is 't', not a mapping; it has no key 'name'"),
    ("train.methods[3].lora_r=8", "index [3] is out of range: train.methods has 1 entries"),
    ("train.methods.lora_r=8", "train.methods is a list; index it like train.methods[0]"),
    ("colour=red", "command line: colour: unknown key; valid keys here: study, seed,"),
    ("trian.languages=[en]", "command line: trian: unknown key (did you mean 'train'?); valid keys"),
    ("train.methods[0].lora_rr=8", "train.methods[0].lora_rr: unknown key (did you mean 'lora_r'?)"),
    ("languages=[en, no]", "command line: languages[1]: Input should be a valid string (got False); "
     "YAML reads unquoted yes/no/on/off/true/false as booleans: quote the text"),
]  # fmt: skip


@pytest.mark.parametrize(("override", "expected"), BAD)
def test_a_bad_override_is_one_line_naming_the_command_line(write, launch, override, expected):
    write("s.yaml")
    code, out, err = launch("sweep", "s.yaml", override, "--dry-run", "--sweep-dir", "out")
    assert code == 2 and out == ""
    (line,) = error_lines(err)
    assert expected in line
    assert sorted(p.name for p in write("s.yaml").parent.iterdir()) == ["s.yaml"]  # nothing written


def test_every_bad_override_is_reported_at_once(write):
    with pytest.raises(ConfigError) as info:
        load_config(write("s.yaml"), ["key=", "=v", "seed=1"])
    assert len(info.value.problems) == 2


def test_empty_text_and_null_are_written_out(write):
    config = load_config(write("s.yaml"), ["resources.default.partition=''", "hf_cache=null"])
    assert config.resources.default.partition == "" and config.hf_cache is None


def test_an_unknown_key_in_a_file_gets_a_suggestion_too(write):
    path = write("s.yaml", write("s.yaml").read_text() + "evalute: {batch_size: 4}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: evalute: unknown key (did you mean 'evaluate'?)")


def test_an_unknown_model_reference_gets_a_suggestion(write):
    with pytest.raises(
        ConfigError, match=r"unknown model 'qwen2.5-05b' \(did you mean 'qwen2.5-0.5b'\?\)"
    ):
        load_config(write("s.yaml"), ["train.methods[0].model=qwen2.5-05b"])


def test_an_index_written_with_dots_is_blamed_on_the_command_line(write):
    path = write("s.yaml", write("s.yaml").read_text().replace("qlora}", "qlora, lora_r: -1}"))
    with pytest.raises(ConfigError) as info:
        load_config(path, ["train.methods.0.lora_r=-2"])
    assert str(info.value) == (
        "command line: train.methods[0].lora_r: Input should be greater than 0 (got -2)"
    )
