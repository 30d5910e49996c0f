"""YAML 1.1's traps: sexagesimal times, unit-less memory, booleans for text, repeated keys."""

from __future__ import annotations

import pytest

from babelsum.config import load_config
from babelsum.config.load import read_yaml
from babelsum.errors import ConfigError
from tests.config.conftest import STUDY, error_lines


def resources(write, text: str):
    return load_config(write("s.yaml", STUDY + "resources:\n" + text)).resources


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("12:00:00", "12:00:00"),  # YAML 1.1: the integer 43200
        ("08:00:00", "08:00:00"),  # a string in YAML 1.1 too (leading 0)
        ("1-12:00:00", "1-12:00:00"),
        ("90", "01:30:00"),  # a bare number is minutes, as `sbatch --time=90`
        ("1500", "1-01:00:00"),
        ('"90"', "90"),
        ("2-0", "2-0"),
    ],
)
def test_times_read_as_sbatch_reads_them(write, written, read):
    assert resources(write, f"  default: {{time: {written}}}\n").default.time == read


def test_times_in_overrides_and_retry_limits_too(write):
    config = load_config(
        write("s.yaml", STUDY + "engine:\n  retry: {max_time: 48:00:00, max_mem: 512g}\n"),
        ["resources.train.time=12:00:00"],
    )
    assert config.resources.for_stage("train").time == "12:00:00"
    assert (config.engine.retry.max_time, config.engine.retry.max_mem) == ("48:00:00", "512G")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  default: {time: 0}", "resources.default.time: time must be a positive number of minutes"),
        ("  default: {time: '12:75:00'}", "minutes and seconds after a ':' must be below 60"),
        ("  default: {time: tomorrow}", "time must be SLURM's minutes, MM:SS, HH:MM:SS, D-HH"),
        ("  train: {time: 1.5}", "resources.train.time: time must be SLURM's"),
        ("  default: {mem: 64}", "resources.default.mem: mem 64 has no unit: sbatch would read 64 "
         "megabytes; write 64G or 64M"),
        ("  default: {mem: '4000'}", "mem 4000 has no unit"),
        ("  default: {mem: 0G}", "mem must be a positive size like 16G or 4000M"),
    ],
)  # fmt: skip
def test_times_and_memory_sbatch_would_not_take_are_refused(write, text, expected):
    with pytest.raises(ConfigError) as info:
        resources(write, text + "\n")
    (line,) = str(info.value).splitlines()
    assert expected in line


@pytest.mark.parametrize(
    ("written", "read"), [("64G", "64G"), ("64g", "64G"), ("64GB", "64G"), ("4000M", "4000M")]
)
def test_memory_with_a_unit(write, written, read):
    assert resources(write, f"  default: {{mem: {written}}}\n").default.mem == read


def test_a_yaml_boolean_where_text_is_expected_says_to_quote_it(write, launch):
    write("s.yaml", STUDY.replace("languages: [en, fr]", "languages: [en, no]"))
    code, _, err = launch("config", "s.yaml")
    assert code == 2
    assert error_lines(err) == [
        "error: s.yaml: languages[1]: Input should be a valid string (got False); YAML reads "
        "unquoted yes/no/on/off/true/false as booleans: quote the text, e.g. 'no'"
    ]


def test_no_sexagesimal_numbers_but_the_rest_of_yaml_as_before():
    assert read_yaml("a: 1:30\nb: 190:20:30.15\nc: 0x1f\nd: 1_000\ne: 1.5e+3\nf: yes\ng: .inf", "t") == {
        "a": "1:30", "b": "190:20:30.15", "c": 31, "d": 1000, "e": 1500.0, "f": True, "g": float("inf"),
    }  # fmt: skip


def test_a_repeated_key_is_an_error_naming_the_key_and_both_lines(write, launch):
    text = (
        STUDY
        + "resources:\n  default:\n    mem: 8G\n    partition: cpu\n    mem: 64G\nseed: 1\nseed: 2\n"
    )
    write("s.yaml", text)
    code, _, err = launch("sweep", "s.yaml", "--dry-run")
    assert code == 2
    assert error_lines(err) == [
        "error: s.yaml: line 13: key 'mem' is repeated (first at line 11); keep one",
        "error: s.yaml: line 15: key 'seed' is repeated (first at line 14); keep one",
    ]


def test_a_repeated_key_inside_a_list_entry_and_merge_keys(write):
    with pytest.raises(ConfigError, match="line 2: key 'method' is repeated"):
        read_yaml("methods:\n  - {model: a, method: full, method: qlora}\n", "x.yaml")
    # `<<:` merges an anchor's keys; overriding one of them is not a repeated key
    merged = read_yaml("base: &b {mem: 8G, qos: q}\ntrain:\n  <<: *b\n  mem: 64G\n", "x.yaml")
    assert merged["train"] == {"mem": "64G", "qos": "q"}
