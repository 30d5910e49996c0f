"""`launch` arguments: each mistake is one `error:` line and exit 2, before anything is written."""

from __future__ import annotations

import argparse

import pytest

from tests.config.conftest import error_lines

BAD = [
    (["sweep", "s.yaml", "--jobs", "-1"], "error: launch sweep: argument --jobs: -1: give 1 or more"),
    (["sweep", "s.yaml", "--jobs", "0"], "argument --jobs: 0: give 1 or more"),
    (["sweep", "s.yaml", "--jobs", "two"], "argument --jobs: 'two' is not a whole number"),
    (["sweep", "s.yaml", "--sweep-dir", "s.yaml"], "argument --sweep-dir: s.yaml is a file, not a folder"),
    (["sweep", "s.yaml", "--executor", "nope"], "argument --executor: invalid choice: 'nope'"),
    (["sweep", "--dry-run"], "the following arguments are required: CONFIG.yaml|key=value"),
    (["sweep", "s.yaml", "--bogus"], "unrecognized arguments: --bogus"),
    (["sweep", "s.yaml", "s"], "error: command line: 's': expected key=value, or a config file ending .yaml"),
    (["sweep", "missing.yaml"], "error: missing.yaml: no such config file: missing.yaml"),
    (["sweep", "seed=1"], "error: command line: no config file given"),
    (["config"], "error: launch config: the following arguments are required"),
    (["prefetch", "s.yaml", "--cache-dir"], "argument --cache-dir: expected one argument"),
    (["resubmit", "sw", "--mem", "64"], "argument --mem: mem 64 has no unit: sbatch would read 64 megabytes"),
    (["resubmit", "sw", "--mem", "lots"], "argument --mem: mem must be a positive size like 16G or 4000M (got 'lots')"),
    (["resubmit", "sw", "--time", "25:99"], "argument --time: time: minutes and seconds after a ':' must be below 60"),
    (["resubmit", "sw", "--time", "0"], "argument --time: time must be longer than zero"),
    (["resubmit", "sw", "--time", "soon"], "argument --time: time must be SLURM's minutes, MM:SS, HH:MM:SS"),
    (["resubmit", "sw", "--jobs", "-2"], "argument --jobs: -2: give 1 or more"),
    (["logs", "sw", "train/x", "--tail", "-3"], "error: launch logs: argument --tail: -3: give 1 or more"),
    (["logs", "sw", "train/x", "--tail", "0"], "argument --tail: 0: give 1 or more"),
    (["tiny-models", "out", "--topics", "0"], "argument --topics: 0: give 1 or more"),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "expected"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_a_bad_argument_is_one_line_exit_2_and_nothing_is_written(write, launch, argv, expected):
    config = write("s.yaml")
    code, out, err = launch(*argv)
    assert code == 2 and out == ""
    (line,) = error_lines(err)
    assert expected in line
    assert [p.name for p in config.parent.iterdir()] == ["s.yaml"]


def test_help_still_shows_the_usage(launch):
    code, out, _ = launch("sweep", "--help")
    assert code == 0 and "usage: launch sweep" in out and "CONFIG.yaml|key=value" in out


def test_resubmit_takes_memory_and_time_as_sbatch_does():
    from babelsum.cli import build_parser, parse_args

    args = parse_args(build_parser(), ["resubmit", "sw", "--mem", "64g", "--time", "90"])
    assert (args.mem, args.time) == ("64G", "90")


def test_configs_and_overrides_may_come_in_any_order_around_options():
    from babelsum.cli import build_parser, parse_args

    args = parse_args(
        build_parser(),
        ["sweep", "a.yaml", "--dry-run", "x=1", "b.yml", "--executor", "slurm", "dir/c=d.yaml"],
    )
    assert args.config == ["a.yaml", "b.yml", "dir/c=d.yaml"]  # a '/' before '=': a path
    assert args.overrides == ["x=1"] and args.dry_run and args.executor == "slurm"


def test_every_command_of_the_parser_runs_something():
    from babelsum.cli import COMMANDS, build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(sub.choices) == set(COMMANDS)
