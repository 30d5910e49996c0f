"""Bad arguments to every `launch` command: refused in one `error:` line naming the argument
or the path, exit 2, nothing written outside the sweep folder.

Placeholders in a row: {sweep} a copy of a finished sweep (in the sandbox's sweep folder),
{file} a plain file, {dir} an empty folder, {study} a valid config, {pred} two lines of
text, {one} one line, {empty} an empty file, {binary} bytes that are not UTF-8.
"""

from __future__ import annotations

import pytest

from tests.bad_input.conftest import (
    assert_nothing_written,
    assert_refused,
    copy_sweep,
    done_outputs,
    rows,
)
from tests.bad_input.test_configs import STUDY

TRAIN_OUTPUT = "{sweep}/tasks/train/tiny/full/en/output"

# (id, argv, culprits that the one error line names)
ARGUMENTS = [
    # ---- launch
    ("no-command", [], ["launch", "required: COMMAND"]),
    ("unknown-command", ["frobnicate"], ["invalid choice: 'frobnicate'"]),
    # ---- sweep
    ("sweep-no-config", ["sweep"], ["launch sweep", "required"]),
    ("sweep-jobs-negative", ["sweep", "{study}", "--jobs", "-1"], ["--jobs", "-1: give 1 or more"]),
    ("sweep-jobs-zero", ["sweep", "{study}", "--jobs", "0"], ["--jobs", "0: give 1 or more"]),
    ("sweep-jobs-word", ["sweep", "{study}", "--jobs", "x"], ["--jobs", "'x' is not a whole number"]),
    ("sweep-jobs-huge", ["sweep", "{study}", "--jobs", "9" * 5000], ["--jobs", "not a whole number"]),
    ("sweep-unknown-executor", ["sweep", "{study}", "--executor", "nope"], ["--executor", "'nope'"]),
    ("sweep-dir-a-file", ["sweep", "{study}", "--sweep-dir", "{file}"], ["--sweep-dir", "is a file, not a folder"]),
    ("sweep-dir-under-a-file", ["sweep", "{study}", "--sweep-dir", "{file}/x"], ["--sweep-dir", "is a file, not a folder"]),
    ("sweep-dir-empty", ["sweep", "{study}", "--sweep-dir", ""], ["--sweep-dir", "an empty path"]),
    ("sweep-dir-not-empty", ["sweep", "{study}", "--sweep-dir", "{full}", "--no-preflight"], ["full", "exists and is not empty"]),
    ("sweep-dir-holds-a-sweep", ["sweep", "{study}", "--sweep-dir", "{sweep}", "--no-preflight"], ["already holds sweep", "launch resubmit"]),
    ("sweep-reuse-from-nowhere", ["sweep", "{study}", "--reuse-from", "nowhere", "--dry-run", "--no-preflight"], ["--reuse-from nowhere", "not a sweep folder"]),
    ("sweep-reuse-from-latest-none", ["sweep", "{study}", "--reuse-from", "latest", "--dry-run"], ["`latest`", "sweeps"]),
    ("sweep-unknown-option", ["sweep", "{study}", "--frobnicate"], ["unrecognized arguments: --frobnicate"]),
    ("sweep-not-a-config", ["sweep", "{file}"], ["file.txt' is not one"]),
    # ---- status
    ("status-nowhere", ["status", "nowhere"], ["nowhere is not a sweep folder"]),
    ("status-a-file", ["status", "{file}"], ["file.txt is not a sweep folder"]),
    ("status-empty-folder", ["status", "{dir}"], ["empty is not a sweep folder"]),
    ("status-empty-path", ["status", ""], ["is not a sweep folder"]),
    ("status-latest-none", ["status", "latest"], ["`latest`", "sweeps"]),
    ("status-watch-zero", ["status", "{sweep}", "--watch", "0"], ["--watch", "0 seconds"]),
    ("status-watch-negative", ["status", "{sweep}", "--watch", "-1"], ["--watch", "-1 seconds"]),
    ("status-watch-word", ["status", "{sweep}", "--watch", "abc"], ["--watch", "'abc' is not a number"]),
    ("status-watch-nan", ["status", "{sweep}", "--watch", "nan"], ["--watch", "nan seconds"]),
    ("status-watch-inf", ["status", "{sweep}", "--watch", "inf"], ["--watch", "inf seconds"]),
    ("status-json-and-timing", ["status", "{sweep}", "--json", "--timing"], ["--timing: not allowed with argument --json"]),
    # ---- resubmit
    ("resubmit-mem-unit", ["resubmit", "{sweep}", "--mem", "12Q"], ["--mem", "'12Q'"]),
    ("resubmit-mem-empty", ["resubmit", "{sweep}", "--mem", ""], ["--mem", "got ''"]),
    ("resubmit-mem-negative", ["resubmit", "{sweep}", "--mem=-5G"], ["--mem", "'-5G'"]),
    ("resubmit-time-range", ["resubmit", "{sweep}", "--time", "25:99:99"], ["--time", "'25:99:99'"]),
    ("resubmit-time-word", ["resubmit", "{sweep}", "--time", "abc"], ["--time", "'abc'"]),
    ("resubmit-time-newline", ["resubmit", "{sweep}", "--time", "1:00\n#SBATCH --wrap=x"], ["--time", "#SBATCH"]),
    ("resubmit-jobs-zero", ["resubmit", "{sweep}", "--jobs", "0"], ["--jobs", "0: give 1 or more"]),
    ("resubmit-unknown-stage", ["resubmit", "{sweep}", "--stage", "nope"], ["--stage 'nope': no such stage", "prepare"]),
    ("resubmit-task-matches-nothing", ["resubmit", "{sweep}", "--task", "train/nomatch/*"], ["--task 'train/nomatch/*' matches no task"]),
    ("resubmit-dry-run-unknown-stage", ["resubmit", "{sweep}", "--stage", "trian", "--dry-run"], ["--stage 'trian'"]),
    ("resubmit-unknown-executor", ["resubmit", "{sweep}", "--executor", "x"], ["--executor", "'x'"]),
    ("resubmit-nowhere", ["resubmit", "nowhere"], ["nowhere is not a sweep folder"]),
    # ---- cancel
    ("cancel-nowhere", ["cancel", "nowhere"], ["nowhere is not a sweep folder"]),
    ("cancel-extra-argument", ["cancel", "{sweep}", "extra"], ["unrecognized arguments: extra"]),
    ("cancel-empty-folder", ["cancel", "{dir}"], ["empty is not a sweep folder"]),
    # ---- logs
    ("logs-unknown-task", ["logs", "{sweep}", "train/nope/x/en"], ["no task 'train/nope/x/en'"]),
    ("logs-key-climbs-out", ["logs", "{sweep}", "../../etc/passwd"], ["no task '../../etc/passwd'"]),
    ("logs-empty-key", ["logs", "{sweep}", ""], ["no task ''"]),
    ("logs-tail-zero", ["logs", "{sweep}", "prepare", "--tail", "0"], ["--tail", "0: give 1 or more"]),
    ("logs-tail-word", ["logs", "{sweep}", "prepare", "--tail", "x"], ["--tail", "'x'"]),
    ("logs-nowhere", ["logs", "nowhere", "prepare"], ["nowhere is not a sweep folder"]),
    # ---- report
    ("report-nowhere", ["report", "nowhere"], ["nowhere is not a sweep folder"]),
    ("report-a-file", ["report", "{file}"], ["file.txt is not a sweep folder"]),
    # ---- score
    ("score-no-lang", ["score", "--pred", "{pred}", "--ref", "{pred}"], ["required: --lang"]),
    ("score-missing-file", ["score", "--lang", "en", "--pred", "missing.txt", "--ref", "{pred}"], ["missing.txt"]),
    ("score-lengths-differ", ["score", "--lang", "en", "--pred", "{pred}", "--ref", "{one}"], ["pred.txt has 2", "one.txt has 1"]),
    ("score-empty", ["score", "--lang", "en", "--pred", "{empty}", "--ref", "{empty}"], ["empty.txt is empty"]),
    ("score-not-utf8", ["score", "--lang", "en", "--pred", "{binary}", "--ref", "{binary}"], ["binary.txt is not UTF-8"]),
    ("score-a-folder", ["score", "--lang", "en", "--pred", "{dir}", "--ref", "{pred}"], ["empty"]),
    # ---- sync
    ("sync-nowhere", ["sync", "nowhere"], ["nowhere is not a sweep folder"]),
    ("sync-a-file", ["sync", "{file}"], ["file.txt is not a sweep folder"]),
    ("sync-tracking-off", ["sync", "{sweep}"], ["tracking is off", "tracking.enabled: false"]),
    # ---- ui
    ("ui-port-word", ["ui", "{sweep}", "--port", "abc", "--dry-run"], ["--port", "'abc' is not a port number"]),
    ("ui-port-too-high", ["ui", "{sweep}", "--port", "70000", "--dry-run"], ["--port", "70000: a port is 1 to 65535"]),
    ("ui-port-negative", ["ui", "{sweep}", "--port=-1", "--dry-run"], ["--port", "-1: a port is 1 to 65535"]),
    ("ui-port-zero", ["ui", "{sweep}", "--port", "0", "--dry-run"], ["--port", "0: a port is 1 to 65535"]),
    ("ui-host-space", ["ui", "{sweep}", "--host", "a b", "--dry-run"], ["--host", "'a b' is not a host"]),
    ("ui-host-empty", ["ui", "{sweep}", "--host", "", "--dry-run"], ["--host", "'' is not a host"]),
    ("ui-nowhere", ["ui", "nowhere", "--dry-run"], ["nowhere is not a sweep folder"]),
    # ---- prefetch
    ("prefetch-missing-config", ["prefetch", "missing.yaml"], ["missing.yaml", "no such config file"]),
    ("prefetch-bad-override", ["prefetch", "{study}", "seed="], ["command line", "'seed='"]),
    ("prefetch-cache-a-file", ["prefetch", "{study}", "--cache-dir", "{file}"], ["--cache-dir", "is a file, not a folder"]),
    # ---- config
    ("config-nothing", ["config"], ["launch config", "required"]),
    ("config-override-only", ["config", "seed=1"], ["no config file given"]),
    # ---- list
    ("list-a-file", ["list", "{file}"], ["file.txt is not a folder"]),
    ("list-nowhere", ["list", "nowhere"], ["nowhere is not a folder"]),
    # ---- merge
    ("merge-nowhere", ["merge", "nowhere", "out"], ["nowhere has no adapter_config.json"]),
    ("merge-not-an-adapter", ["merge", "{dir}", "out"], ["empty has no adapter_config.json"]),
    ("merge-out-a-file", ["merge", "{dir}", "{file}"], ["out_dir", "is a file, not a folder"]),
    # ---- push
    ("push-nowhere", ["push", "nowhere", "me/x", "--dry-run"], ["nowhere: no such folder"]),
    ("push-not-a-task-output", ["push", "{dir}", "me/x", "--dry-run"], ["is not a task's output folder"]),
    ("push-bad-repo-id", ["push", TRAIN_OUTPUT, "../x", "--dry-run"], ["repo id '../x'"]),
    ("push-no-model", ["push", TRAIN_OUTPUT, "me/x", "--dry-run"], ["has no model/ folder"]),
    # ---- tiny-models
    ("tiny-models-topics-zero", ["tiny-models", "out", "--topics", "0"], ["--topics", "0: give 1 or more"]),
    ("tiny-models-topics-word", ["tiny-models", "out", "--topics", "abc"], ["--topics", "'abc'"]),
    ("tiny-models-out-a-file", ["tiny-models", "{file}"], ["out_dir", "is a file, not a folder"]),
    # ---- completion
    ("completion-unknown-shell", ["completion", "fish"], ["invalid choice: 'fish'"]),
    ("completion-no-shell", ["completion"], ["required: shell"]),
]  # fmt: skip


@pytest.mark.parametrize("argv, culprits", rows(ARGUMENTS))
def test_a_bad_argument_is_refused_in_one_line(sandbox, launch, done_sweep, argv, culprits):
    places = {
        "study": sandbox.write("study.yaml", STUDY),
        "file": sandbox.write("file.txt", "not a folder\n"),
        "dir": sandbox.root / "empty",
        "full": sandbox.write("full/something.txt", "x").parent,
        "pred": sandbox.write("pred.txt", "a cat\na dog\n"),
        "one": sandbox.write("one.txt", "a cat\n"),
        "empty": sandbox.write("empty.txt", ""),
        "binary": sandbox.write("binary.txt", b"\xff\xfe\xfa\n"),
    }
    (sandbox.root / "empty").mkdir()
    if any("{sweep}" in a for a in argv):
        places["sweep"] = copy_sweep(done_sweep, sandbox)
    outputs = done_outputs(sandbox.sweep) if sandbox.sweep.exists() else set()
    before = sandbox.listing()
    result = launch(*[a.format(**places) for a in argv])
    assert_refused(result, *culprits)
    assert_nothing_written(before, sandbox.listing())
    if outputs:
        assert done_outputs(sandbox.sweep) == outputs, "a done output was lost"
