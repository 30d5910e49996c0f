"""Bad configs and overrides: each is refused in one line per problem, naming the file (or
`command line`) and the field, before anything is written.

Most rows run `launch config` (it reads, merges and validates as a sweep would); the rows
marked `sweep` run `launch sweep --sweep-dir sweep` and check that no sweep folder appears.
"""

from __future__ import annotations

import os

import pytest

from tests.bad_input.conftest import assert_nothing_written, assert_refused, rows

FAKE = "tests.orchestration.fake_stages"
# A valid study; its stages are the test-only ones, so that a row wrongly accepted by
# `launch sweep` ends in seconds (and fails its assertion) instead of training a model.
STUDY = f"""\
study: bad-input
languages: [en, fr]
teacher: {{backend: lead, shards: 2}}
models:
  tiny: {{path: unused}}
train:
  languages: [en, fr]
  methods:
    - {{model: tiny, method: full}}
evaluate: {{test_sets: [novel]}}
tracking: {{enabled: false}}
engine:
  stage_impl: {{prepare: "{FAKE}:run", teacher: "{FAKE}:run", split: "{FAKE}:run",
                train: "{FAKE}:run", evaluate: "{FAKE}:run", gather: "{FAKE}:gather"}}
"""


def edit(old: str, new: str, text: str = STUDY) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def plus(extra: str) -> str:
    return STUDY + extra


BOMB = "study: bomb\n" + "".join(
    f"l{i}: &l{i} [{', '.join([f'*l{i - 1}' if i else 'x'] * 9)}]\n" for i in range(9)
)


def link_loop(root) -> None:
    os.symlink("loop.yaml", root / "loop.yaml")


# (id, files {name: text | bytes | callable(root)}, command, culprits that one line names,
#  number of error lines)
CONFIGS = [
    # ---- YAML syntax
    ("unclosed-bracket", {"s.yaml": edit("[en, fr]", "[en, fr")}, "config", ["s.yaml", "malformed YAML", "line 3"], 1),
    ("tab-indent", {"s.yaml": "study: x\n\tlanguages: [en]\n"}, "config", ["s.yaml", "malformed YAML", "line 2"], 1),
    ("bad-indent", {"s.yaml": edit("  tiny: {path: unused}", "  tiny: {path: unused}\n   x: 1")}, "config", ["s.yaml", "malformed YAML"], 1),
    ("unclosed-quote", {"s.yaml": edit("study: bad-input", 'study: "bad-input')}, "config", ["s.yaml", "malformed YAML"], 1),
    ("two-documents", {"s.yaml": STUDY + "---\nstudy: other\n"}, "config", ["s.yaml", "malformed YAML", "another document"], 1),
    ("repeated-top-key", {"s.yaml": plus("study: again\n")}, "sweep", ["s.yaml", "key 'study' is repeated (first at line 1)"], 1),
    ("repeated-nested-key", {"s.yaml": edit("{path: unused}", "{path: unused, path: other}")}, "sweep", ["s.yaml", "key 'path' is repeated"], 1),
    ("a-list", {"s.yaml": "- study\n- languages\n"}, "config", ["s.yaml", "must hold a mapping"], 1),
    ("a-scalar", {"s.yaml": "just some text\n"}, "config", ["s.yaml", "must hold a mapping"], 1),
    ("empty-file", {"s.yaml": ""}, "config", ["s.yaml", "study: Field required"], 3),
    ("python-tag", {"s.yaml": plus("seed: !!python/object/apply:os.system [touch owned]\n")}, "sweep", ["s.yaml", "could not determine a constructor"], 1),
    ("unknown-tag", {"s.yaml": plus("seed: !include other.yaml\n")}, "config", ["s.yaml", "'!include'"], 1),
    ("undefined-alias", {"s.yaml": plus("seed: *nothing\n")}, "config", ["s.yaml", "undefined alias"], 1),
    ("not-utf8", {"s.yaml": STUDY.encode().replace(b"bad-input", b"caf\xe9")}, "config", ["s.yaml", "not UTF-8"], 1),
    ("nul-byte", {"s.yaml": STUDY.encode().replace(b"bad-input", b"bad\x00input")}, "config", ["s.yaml", "malformed YAML", "#x0000"], 1),
    ("escape-byte", {"s.yaml": STUDY.encode().replace(b"bad-input", b"bad\x1binput")}, "config", ["s.yaml", "malformed YAML", "#x001b"], 1),
    ("nested-too-deep", {"s.yaml": "study: x\na: " + "[" * 5000 + "]" * 5000 + "\n"}, "config", ["s.yaml", "nested too deeply"], 1),
    ("alias-bomb", {"s.yaml": BOMB}, "sweep", ["s.yaml", "aliases"], 1),
    ("non-text-key", {"s.yaml": plus("1: x\n")}, "config", ["s.yaml", "Keys should be strings"], 1),
    ("unhashable-key", {"s.yaml": plus("? [a, b]\n: x\n")}, "config", ["s.yaml", "unhashable key"], 1),
    # ---- types
    ("languages-a-string", {"s.yaml": edit("languages: [en, fr]\nteacher", "languages: en\nteacher")}, "config", ["s.yaml", "languages: Input should be a valid list"], 1),
    ("train-a-list", {"s.yaml": edit("train:\n  languages: [en, fr]\n  methods:\n    - {model: tiny, method: full}", "train: [a]")}, "config", ["s.yaml", "train: Input should be a valid dictionary"], 1),
    ("shards-a-word", {"s.yaml": edit("shards: 2", "shards: two")}, "config", ["s.yaml", "teacher.shards", "'two'"], 1),
    ("seed-a-fraction", {"s.yaml": plus("seed: 1.5\n")}, "config", ["s.yaml", "seed: Input should be a valid integer"], 1),
    ("bool-a-word", {"s.yaml": edit("enabled: false", "enabled: maybe")}, "config", ["s.yaml", "tracking.enabled", "'maybe'"], 1),
    ("language-no-unquoted", {"s.yaml": edit("languages: [en, fr]", "languages: [en, no]")}, "config", ["s.yaml", "languages[1]", "quote the text"], 1),
    ("model-null", {"s.yaml": edit("tiny: {path: unused}", "tiny: null")}, "config", ["s.yaml", "models.tiny"], 1),
    ("study-a-list", {"s.yaml": edit("study: bad-input", "study: [a, b]")}, "config", ["s.yaml", "study: Input should be a valid string"], 1),
    # ---- unknown keys
    ("unknown-top-key", {"s.yaml": plus("colour: red\n")}, "config", ["s.yaml", "colour: unknown key", "valid keys here: study"], 1),
    ("typo-in-method", {"s.yaml": edit("method: full}", "method: full, lora_rr: 8}")}, "config", ["s.yaml", "train.methods[0].lora_rr", "did you mean 'lora_r'"], 1),
    ("typo-in-evaluate", {"s.yaml": edit("test_sets", "tests_sets")}, "config", ["s.yaml", "evaluate.tests_sets", "did you mean 'test_sets'"], 1),
    ("unknown-method", {"s.yaml": edit("method: full}", "method: fulll}")}, "config", ["s.yaml", "train.methods[0].method", "'fulll'"], 1),
    ("unknown-model-ref", {"s.yaml": edit("model: tiny,", "model: tinyy,")}, "config", ["s.yaml", "unknown model 'tinyy'", "did you mean 'tiny'"], 1),
    ("unknown-source", {"s.yaml": plus("data: {source: ftp}\n")}, "config", ["s.yaml", "data.source", "'ftp'"], 1),
    # ---- names that become folders (refused before anything is written)
    ("study-climbs-out", {"s.yaml": edit("study: bad-input", "study: ../up")}, "sweep", ["s.yaml", "study: '../up' is not a safe name"], 1),
    ("study-a-path", {"s.yaml": edit("study: bad-input", "study: a/b")}, "sweep", ["s.yaml", "study: 'a/b' is not a safe name"], 1),
    ("study-empty", {"s.yaml": edit("study: bad-input", 'study: ""')}, "sweep", ["s.yaml", "study: '' is not a safe name"], 1),
    ("study-newline", {"s.yaml": edit("study: bad-input", 'study: "a\\nb"')}, "sweep", ["s.yaml", "study: 'a\\nb' is not a safe name"], 1),
    ("study-hidden", {"s.yaml": edit("study: bad-input", "study: .hidden")}, "sweep", ["s.yaml", "study: '.hidden' is not a safe name"], 1),
    ("study-nul", {"s.yaml": edit("study: bad-input", 'study: "a\\0b"')}, "sweep", ["s.yaml", "study: 'a\\x00b' is not a safe name"], 1),
    ("model-climbs-out", {"s.yaml": edit("model: tiny,", 'model: "../../etc",', edit("tiny: {", '"../../etc": {'))}, "sweep", ["s.yaml", "models: '../../etc' is not a safe name"], 1),
    ("method-name-a-path", {"s.yaml": edit("method: full}", 'method: full, name: "x/y"}')}, "sweep", ["s.yaml", "train.methods[0].name: 'x/y' is not a safe name"], 1),
    ("method-named-base", {"s.yaml": edit("method: full}", "method: full, name: base}")}, "sweep", ["s.yaml", "train.methods[0].name", "'base'"], 1),
    ("huge-study-name", {"s.yaml": edit("study: bad-input", "study: " + "x" * 1_000_000)}, "config", ["s.yaml", "study: 'xxx", "..."], 1),
    # ---- duplicates (two tasks with one key)
    ("language-twice", {"s.yaml": edit("languages: [en, fr]", "languages: [en, fr, en]")}, "sweep", ["s.yaml", "languages: 'en' listed twice"], 1),
    ("train-language-twice", {"s.yaml": edit("  languages: [en, fr]", "  languages: [fr, fr]")}, "sweep", ["s.yaml", "train.languages: 'fr' listed twice"], 1),
    ("test-set-twice", {"s.yaml": edit("[novel]", "[novel, novel]")}, "sweep", ["s.yaml", "evaluate.test_sets: 'novel' listed twice"], 1),
    ("method-twice", {"s.yaml": edit("    - {model: tiny, method: full}", "    - {model: tiny, method: full}\n    - {model: tiny, method: full}")}, "sweep", ["s.yaml", "train.methods: two entries for tiny/full"], 1),
    # ---- ranges
    ("shards-zero", {"s.yaml": edit("shards: 2", "shards: 0")}, "config", ["s.yaml", "teacher.shards: Input should be greater than 0"], 1),
    ("seed-negative", {"s.yaml": plus("seed: -1\n")}, "config", ["s.yaml", "seed: Input should be greater than or equal to 0"], 1),
    ("parallel-negative", {"s.yaml": edit("engine:\n", "engine:\n  local_parallel_tasks: -3\n")}, "config", ["s.yaml", "engine.local_parallel_tasks"], 1),
    ("no-languages", {"s.yaml": edit("languages: [en, fr]", "languages: []")}, "config", ["s.yaml", "languages: List should have at least 1 item"], 1),
    ("train-language-not-in-study", {"s.yaml": edit("  languages: [en, fr]", "  languages: [de]")}, "config", ["s.yaml", "train.languages: 'de' is not in languages"], 1),
    ("unknown-language", {"s.yaml": edit("languages: [en, fr]", "languages: [en, xx]")}, "config", ["s.yaml", "unknown language 'xx'"], 1),
    ("no-data-files", {"s.yaml": plus("data: {source: files, files: {paths: []}}\n")}, "config", ["s.yaml", "data.files.paths"], 1),
    # ---- nan, inf, huge numbers
    ("learning-rate-nan", {"s.yaml": edit("method: full}", "method: full, learning_rate: .nan}")}, "config", ["s.yaml", "train.methods[0].learning_rate: Input should be a finite number"], 1),
    ("epochs-inf", {"s.yaml": edit("method: full}", "method: full, epochs: .inf}")}, "config", ["s.yaml", "train.methods[0].epochs: Input should be a finite number"], 1),
    ("shards-overflow", {"s.yaml": edit("shards: 2", "shards: 1.0e+400")}, "config", ["s.yaml", "teacher.shards: Input should be a finite number"], 1),
    ("steps-huge", {"s.yaml": edit("method: full}", "method: full, max_steps: 1000000000000000000000000000000}")}, "config", ["s.yaml", "max_steps: Input should be less than or equal to 100000000"], 1),
    ("seed-beyond-64-bits", {"s.yaml": plus("seed: 1180591620717411303424\n")}, "config", ["s.yaml", "seed: Input should be less than or equal to 4294967295"], 1),
    ("a-5000-digit-number", {"s.yaml": plus("seed: " + "9" * 5000 + "\n")}, "sweep", ["s.yaml", "5000 digits is too long"], 1),
    # ---- control characters and sbatch lines
    ("partition-injects-lines", {"s.yaml": plus('resources: {train: {partition: "gpu\\n#SBATCH --wrap=x"}}\n')}, "sweep", ["s.yaml", "resources.train.partition: control characters"], 1),
    ("account-escape", {"s.yaml": plus('resources: {default: {account: "lab\\e[31m"}}\n')}, "config", ["s.yaml", "resources.default.account: control characters"], 1),
    ("partition-with-space", {"s.yaml": plus("resources: {train: {partition: gpu a100}}\n")}, "config", ["s.yaml", "resources.train.partition: spaces are not allowed"], 1),
    ("extra-value-newline", {"s.yaml": plus('resources: {default: {extra: {mail-user: "me@x.org\\necho owned"}}}\n')}, "config", ["s.yaml", "resources.default.extra: mail-user: control characters"], 1),
    ("extra-option-name", {"s.yaml": plus("resources: {default: {extra: {bad opt: 1}}}\n")}, "config", ["s.yaml", "'bad opt' is not an sbatch option name"], 1),
    ("time-out-of-range", {"s.yaml": plus('resources: {train: {time: "99:99"}}\n')}, "config", ["s.yaml", "resources.train.time", "'99:99'"], 1),
    ("mem-unknown-unit", {"s.yaml": plus('resources: {train: {mem: "12Q"}}\n')}, "config", ["s.yaml", "resources.train.mem", "'12Q'"], 1),
    ("mem-no-unit", {"s.yaml": plus("resources: {train: {mem: 16}}\n")}, "config", ["s.yaml", "resources.train.mem", "has no unit"], 1),
    # ---- includes
    ("include-itself", {"s.yaml": "include: [s.yaml]\n" + STUDY}, "config", ["s.yaml", "include cycle"], 1),
    ("include-cycle", {"s.yaml": "include: [b.yaml]\n" + STUDY, "b.yaml": "include: [s.yaml]\n"}, "config", ["include cycle", "s.yaml -> ", "b.yaml -> "], 1),
    ("include-missing", {"s.yaml": "include: [nothere.yaml]\n" + STUDY}, "config", ["s.yaml", "include: no such config file", "nothere.yaml"], 1),
    ("include-not-a-list", {"s.yaml": "include: 5\n" + STUDY}, "config", ["s.yaml", "include: expected a list of config files"], 1),
    ("include-a-device", {"s.yaml": "include: [/dev/zero]\n" + STUDY}, "config", ["s.yaml", "no such config file: /dev/zero"], 1),
    ("include-a-folder", {"s.yaml": "include: [/etc]\n" + STUDY}, "config", ["s.yaml", "no such config file: /etc"], 1),
    ("include-a-link-loop", {"s.yaml": "include: [loop.yaml]\n" + STUDY, "loop": link_loop}, "config", ["s.yaml", "no such config file", "loop.yaml"], 1),
    ("include-from-home", {"s.yaml": "include: [~/profiles/none.yaml]\n" + STUDY}, "config", ["s.yaml", "no such config file", "home/profiles/none.yaml"], 1),
    ("include-a-bad-file", {"s.yaml": "include: [b.yaml]\n" + STUDY, "b.yaml": "seed: [1\n"}, "config", ["b.yaml", "malformed YAML"], 1),
    ("include-escapes-to-a-list", {"s.yaml": "include: [../outside.yaml]\n" + STUDY, "../outside.yaml": "- a\n"}, "config", ["outside.yaml", "must hold a mapping"], 1),
    # ---- missing files
    ("missing-file", {}, ["config", "missing.yaml"], ["missing.yaml", "no such config file"], 1),
    ("a-folder-named-yaml", {"dir.yaml/x": "x"}, ["config", "dir.yaml"], ["dir.yaml", "no such config file"], 1),
    ("not-a-yaml-name", {"notes.txt": STUDY}, ["config", "notes.txt"], ["'notes.txt' is not one", "config files end .yaml"], 1),
    ("missing-second-file", {"s.yaml": STUDY}, ["config", "s.yaml", "cluster.yaml"], ["cluster.yaml", "no such config file"], 1),
    ("dry-run-missing-file", {}, ["sweep", "missing.yaml", "--dry-run"], ["missing.yaml", "no such config file"], 1),
]  # fmt: skip

# (id, override(s), culprits, number of error lines); the file is STUDY, which is valid
OVERRIDES = [
    ("empty-value", ["seed="], ["command line", "'seed=': no value after '='", "seed=null"], 1),
    ("empty-nested-value", ["a.b="], ["command line", "'a.b=': no value after '='"], 1),
    ("nothing-before-equals", ["=v"], ["command line", "'=v': nothing before '='"], 1),
    ("unclosed-list", ["languages=[en"], ["command line", "'languages=[en': the value is not valid YAML"], 1),
    ("stray-bracket", ["languages=]"], ["command line", "'languages=]': the value is not valid YAML"], 1),
    ("unclosed-mapping", ["evaluate={"], ["command line", "'evaluate={': the value is not valid YAML"], 1),
    ("index-out-of-range", ["train.methods[5].lora_r=8"], ["command line", "index [5] is out of range: train.methods has 1 entries"], 1),
    ("huge-index", ["train.methods[99999999999999999999].x=1"], ["command line", "is out of range"], 1),
    ("list-without-index", ["train.methods.lora_r=8"], ["command line", "train.methods is a list; index it like train.methods[0]"], 1),
    ("negative-index", ["train.methods[-1].lora_r=8"], ["command line", "'train.methods[-1].lora_r=8'", "is a list"], 1),
    ("into-a-value", ["study.name=x"], ["command line", "study is 'bad-input', not a mapping"], 1),
    ("double-dot", ["a..b=1"], ["command line", "cannot read the key 'a..b'"], 1),
    ("lone-bracket", ["[=1"], ["command line", "cannot read the key '['"], 1),
    ("empty-brackets", ["models[].path=x"], ["command line", "cannot read the key 'models[].path'"], 1),
    ("extra-bracket", ["train.methods[0]]=1"], ["command line", "cannot read the key"], 1),
    ("slash-in-key", ["a/b=c"], ["command line", "cannot read the key 'a/b'"], 1),
    ("unknown-key", ["colour=red"], ["command line", "colour: unknown key"], 1),
    ("dotted-model-name", ["models.tiny.x.path=1"], ["command line", "models.tiny.x", "unknown key"], 1),
    ("not-a-number", ["seed=abc"], ["command line", "seed: Input should be a valid integer", "'abc'"], 1),
    ("exponent-as-text", ["seed=1e999"], ["command line", "seed", "'1e999'"], 1),
    ("nan", ["train.methods[0].learning_rate=.nan"], ["command line", "learning_rate: Input should be a finite number"], 1),
    ("huge-number", ["seed=" + "9" * 5000], ["command line", "5000 digits is too long"], 1),
    ("duplicate-languages", ["languages=[en,en]"], ["command line", "languages: 'en' listed twice"], 1),
    ("unsafe-study", ["study=../x"], ["command line", "study: '../x' is not a safe name"], 1),
    ("unset-required", ["study=null"], ["command line", "study: Input should be a valid string"], 1),
    ("python-tag", ["seed=!!python/object/apply:os.system [ls]"], ["command line", "could not determine a constructor"], 1),
    ("control-character", ["resources.train.partition=a\x1bb"], ["command line", "the value is not valid YAML", "#x001b"], 1),
    ("newline-escape", ['resources.train.partition="gpu\\n#SBATCH --wrap=x"'], ["command line", "resources.train.partition: control characters"], 1),
    ("undefined-alias", ["seed=*a"], ["command line", "undefined alias"], 1),
    ("not-key-value", ["foo"], ["command line", "'foo': expected key=value"], 1),
    ("two-bad-at-once", ["seed=", "languages=[en"], ["command line"], 2),
]  # fmt: skip


def write_files(root, files: dict) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if callable(content):
            content(root)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


@pytest.mark.parametrize("files, command, culprits, lines", rows(CONFIGS))
def test_a_bad_config_is_refused_in_one_line_per_problem(
    sandbox, launch, files, command, culprits, lines
):
    write_files(sandbox.root, files)
    if command == "config":
        argv = ["config", "s.yaml"]
    elif command == "sweep":
        argv = ["sweep", "s.yaml", "--sweep-dir", sandbox.sweep, "--quiet", "--no-preflight"]
    else:
        argv = command
    before = sandbox.listing()
    result = launch(*argv)
    assert_refused(result, *culprits, lines=lines)
    assert len(max(result.err.splitlines(), key=len)) < 1000, "an error line is not a page"
    assert_nothing_written(before, sandbox.listing())
    assert not sandbox.sweep.exists(), "a sweep folder was written for a refused config"


@pytest.mark.parametrize("overrides, culprits, lines", rows(OVERRIDES))
def test_a_bad_override_is_refused_naming_it(sandbox, launch, overrides, culprits, lines):
    sandbox.write("s.yaml", STUDY)
    before = sandbox.listing()
    result = launch("config", "s.yaml", *overrides)
    assert_refused(result, *culprits, lines=lines)
    assert_nothing_written(before, sandbox.listing())


def test_an_override_after_options_is_read_as_an_override(sandbox, launch):
    """`launch sweep C --dry-run key=` (intermixed): the override is checked, not ignored."""
    sandbox.write("s.yaml", STUDY)
    before = sandbox.listing()
    result = launch("sweep", "s.yaml", "--dry-run", "--no-preflight", "seed=")
    assert_refused(result, "command line", "'seed=': no value")
    assert_nothing_written(before, sandbox.listing())
