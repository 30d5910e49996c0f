"""The `launch` command line: the parser, a check for each argument's value (a refused one
is one line, like every error of `launch`), and the examples in `--help`. The commands
themselves are in cli.py, by the name this parser gives them (`args.command`).
"""

from __future__ import annotations

import argparse
import typing
from pathlib import Path

from babelsum import backends, sweep_list
from babelsum.config.units import slurm_mem, slurm_time


def version_text() -> str:
    """babelsum's version, and python's, torch's and transformers' (from the installed
    packages' metadata: importing torch would take seconds)."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    def of(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    return (
        f"babelsum {of('babelsum')} (python {platform.python_version()}, "
        f"torch {of('torch')}, transformers {of('transformers')})"
    )


class ShowVersion(argparse.Action):
    """`--version`, computed only when asked for."""

    def __init__(self, option_strings, dest, **kwargs):
        kwargs.update(nargs=0, default=argparse.SUPPRESS)
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(version_text())
        parser.exit()


def seconds(text: str) -> float:
    """A refresh interval in seconds (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of seconds (the sweep folder comes first: "
            "launch status SWEEP --watch)"
        ) from None
    if not 0 < value < 86_400:  # also refuses nan and inf, which time.sleep cannot take
        raise argparse.ArgumentTypeError(f"{text} seconds: give a number above 0, below a day")
    return value


# ------------------------------------------------------------------ arguments


class Parser(argparse.ArgumentParser):
    """argparse, but a refused argument is one line (`error: ...`, exit 2), like every other
    error of `launch`; `--help` still shows the usage."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"error: {self.prog}: {message} (`{self.prog} --help`)\n")


def positive_int(text: str) -> int:
    """A count of 1 or more (argparse type): --jobs, --tail, --topics."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: give 1 or more")
    return value


def sbatch_mem(text: str) -> str:
    """--mem as sbatch takes it, with a unit (config/units.py)."""
    try:
        return slurm_mem(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{exc} (got {text!r})") from None


def sbatch_time(text: str) -> str:
    """--time as sbatch takes it (config/units.py)."""
    try:
        return slurm_time(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{exc} (got {text!r})") from None


def new_sweep_dir(text: str) -> str:
    """--sweep-dir, and the other folders a command creates or fills: never an existing file,
    nor a path under one, nor empty (an unset shell variable)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path; give a folder")
    for path in (Path(text), *Path(text).parents):
        try:
            if path.exists() and not path.is_dir():
                raise argparse.ArgumentTypeError(f"{path} is a file, not a folder")
        except OSError as exc:  # a folder on the way that we may not look into
            raise argparse.ArgumentTypeError(f"{path}: {exc.strerror}") from None
    return text


def port(text: str) -> int:
    """--port: a TCP port a server can listen on."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text}: a port is 1 to 65535")
    return value


def host(text: str) -> str:
    """--host: an address or host name, which has no spaces."""
    if not text or any(c.isspace() or ord(c) < 32 for c in text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a host name or address")
    return text


def add_config_inputs(parser: argparse.ArgumentParser) -> None:
    """CONFIG.yaml ... [key=value ...]: several files merge in order, overrides apply last."""
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="CONFIG.yaml|key=value",
        help="config files (merged in order; later keys win) and overrides, e.g. "
        "models[qwen2.5-0.5b].path=/data/qwen",
    )


def split_inputs(inputs: list[str]) -> tuple[list[str], list[str]]:
    """Config files (ending .yaml or .yml) and overrides (key=value, no '/' in the key)."""

    def is_override(arg: str) -> bool:
        key, equals, _ = arg.partition("=")
        return bool(equals) and "/" not in key

    files = [a for a in inputs if not is_override(a) and a.endswith((".yaml", ".yml"))]
    return files, [a for a in inputs if a not in files]


def parse_args(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Overrides may follow options (`launch sweep C.yaml --dry-run key=v`): what argparse
    leaves over after the options joins the command's configs and overrides."""
    args, rest = parser.parse_known_args(argv)
    if rest and (not hasattr(args, "inputs") or any(a.startswith("-") for a in rest)):
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if hasattr(args, "inputs"):
        args.config, args.overrides = split_inputs([*args.inputs, *rest])
    return args


# ------------------------------------------------------------------ parser


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="launch", description="babelsum: multilingual summarization sweeps on SLURM")
    p.add_argument("--version", action=ShowVersion, help="print the versions and exit")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("sweep", help="expand a config into stages of tasks and run or submit them")
    add_config_inputs(s)
    s.add_argument("--executor", choices=backends.NAMES, default="local")
    s.add_argument(
        "--sweep-dir", type=new_sweep_dir, help="sweep folder (default: sweeps/<study>-<time>)"
    )
    s.add_argument(
        "--dry-run", action="store_true", help="print the plan and sbatch options; submit nothing"
    )
    s.add_argument(
        "--wait", action="store_true", help="slurm: follow progress until the sweep ends"
    )
    s.add_argument(
        "--jobs",
        type=positive_int,
        help="local: tasks run in parallel (default engine.local_parallel_tasks)",
    )
    s.add_argument("--quiet", action="store_true", help="no progress bars")
    s.add_argument(
        "--reuse-from",
        action="append",
        metavar="SWEEP_DIR",
        help="take the outputs of done tasks with the same identity from this sweep (repeatable)",
    )
    s.add_argument(
        "--no-preflight",
        action="store_true",
        help="skip the checks before submission (offline cache, ...)",
    )

    s = sub.add_parser("status", help="per-stage counts and failure reasons of a sweep")
    s.add_argument("sweep_dir", help="a sweep folder, or `latest`")
    shown = s.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true", help="every task, for scripts")
    shown.add_argument(
        "--timing", action="store_true", help="where the time went, per stage (done tasks)"
    )
    shown.add_argument(
        "--watch",
        nargs="?",
        const=5.0,
        type=seconds,
        metavar="SECONDS",
        help="refresh every SECONDS (default 5) until every task has ended, or Ctrl-C",
    )

    s = sub.add_parser("list", help="the sweeps under a folder, newest first")
    s.add_argument(
        "folder", nargs="?", help=f"default: sweeps/ (or ${sweep_list.SWEEPS_ENV} when set)"
    )

    s = sub.add_parser(
        "resubmit", help="rerun only the tasks that did not finish, then what they feed"
    )
    s.add_argument("sweep_dir")
    s.add_argument("--stage", action="append", help="only tasks of this stage (repeatable)")
    s.add_argument(
        "--task",
        action="append",
        metavar="KEY_OR_GLOB",
        help="only these tasks (and what they feed), e.g. 'train/*/qlora/*' (repeatable)",
    )
    s.add_argument("--dry-run", action="store_true")
    s.add_argument("--mem", type=sbatch_mem, help="new memory for the resubmitted stages, e.g. 64G")
    s.add_argument(
        "--time", type=sbatch_time, help="new time limit for the resubmitted stages, e.g. 08:00:00"
    )
    s.add_argument("--executor", choices=backends.NAMES, help="default: the sweep's executor")
    s.add_argument(
        "--accept-config-change",
        action="store_true",
        help="the config file was edited: take it, rerunning the tasks it changes",
    )
    s.add_argument("--wait", action="store_true")
    s.add_argument("--jobs", type=positive_int)
    s.add_argument("--quiet", action="store_true")

    s = sub.add_parser("logs", help="print a task's log (either backend)")
    s.add_argument("sweep_dir")
    s.add_argument("key", help="a task key, e.g. train/qwen2.5-0.5b/full/fr")
    s.add_argument("--tail", type=positive_int, metavar="N", help="only the last N lines")
    s.add_argument("--follow", action="store_true", help="keep printing until the task ends")

    s = sub.add_parser("cancel", help="cancel a sweep's queued and running tasks")
    s.add_argument("sweep_dir")

    s = sub.add_parser("report", help="print the cross-lingual matrices of a finished sweep")
    s.add_argument("sweep_dir")

    s = sub.add_parser("score", help="multilingual ROUGE of predictions against references (JSON)")
    s.add_argument("--lang", required=True)
    s.add_argument("--pred", required=True, help="one prediction per line")
    s.add_argument("--ref", required=True, help="one reference per line")

    s = sub.add_parser(
        "sync", help="replay into MLflow what the tasks logged while it was unreachable"
    )
    s.add_argument("sweep_dir")

    s = sub.add_parser("ui", help="open the MLflow UI on a sweep's tracking store")
    s.add_argument("sweep_dir")
    s.add_argument("--port", type=port, default=5000)
    s.add_argument(
        "--host",
        type=host,
        default="127.0.0.1",
        help="interface to listen on (default: this machine only)",
    )
    s.add_argument("--dry-run", action="store_true", help="print the command; start nothing")

    s = sub.add_parser("completion", help="print a shell completion script for `launch`")
    s.add_argument("shell", choices=["bash", "zsh", "tcsh"])

    s = sub.add_parser(
        "prefetch", help="on a login node: download every model and dataset a config names"
    )
    add_config_inputs(s)
    s.add_argument(
        "--cache-dir", type=new_sweep_dir, help="Hugging Face hub cache (default: HF_HUB_CACHE)"
    )

    s = sub.add_parser(
        "config", help="print the resolved config: files merged, includes and overrides applied"
    )
    add_config_inputs(s)

    s = sub.add_parser("tiny-models", help="build tiny random models of the study's architectures")
    s.add_argument("out_dir", type=new_sweep_dir)
    s.add_argument(
        "--topics",
        type=positive_int,
        default=160,
        help="synthetic topics to train the tokenizer on",
    )

    s = sub.add_parser("merge", help="merge a LoRA adapter into its base model")
    s.add_argument("adapter_dir")
    s.add_argument("out_dir", type=new_sweep_dir)

    s = sub.add_parser(
        "push",
        help="publish a trained model or adapter to the Hugging Face Hub, with a model card",
        epilog="examples:\n  launch push sweeps/paper-20250101-120000/tasks/train/phi-4-mini/qlora/fr/"
        "output me/phi-4-mini-qlora-fr --dry-run",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("train_output", help="a train task's output: SWEEP/tasks/train/.../output")
    s.add_argument("repo_id", help="the Hub repository, e.g. me/phi-4-mini-qlora-fr")
    s.add_argument("--private", action="store_true", help="create the repository private")
    s.add_argument(
        "--dry-run", action="store_true", help="write the model card and list the files only"
    )
    add_examples(p, sub)
    return p


EXAMPLES = {
    "sweep": """\
  launch sweep configs/demo.yaml            # the demo, here, in minutes
  launch sweep configs/paper.yaml --executor slurm --dry-run
  launch sweep configs/paper.yaml evaluate.max_new_tokens=96 --executor slurm
  launch sweep configs/paper.yaml --executor slurm --reuse-from latest""",
    "status": """\
  launch status sweeps/paper-20250101-120000
  launch status latest --watch              # in place, every 5 s, until every task has ended
  launch status latest --json | jq '.tasks[] | select(.state == "failed") | .log'""",
    "list": """\
  launch list
  launch list /scratch/$USER/sweeps""",
    "resubmit": """\
  launch resubmit latest --dry-run          # what would run again
  launch resubmit latest --task 'train/*/qlora/*' --mem 64G""",
    "logs": """\
  launch logs latest train/qwen2.5-0.5b/full/fr --tail 50
  launch logs latest evaluate/qwen2.5-0.5b/base/ja/novel --follow""",
    "cancel": "  launch cancel latest",
    "report": "  launch report latest",
    "score": "  launch score --lang ja --pred predictions.txt --ref references.txt",
    "sync": "  launch sync latest",
    "ui": """\
  launch ui latest --port 5001
  # from a laptop: ssh -L 5001:localhost:5001 LOGIN_NODE, then open http://localhost:5001""",
    "completion": """\
  launch completion bash > ~/.local/share/bash-completion/completions/launch
  launch completion zsh > ~/.zfunc/_launch  # with fpath+=(~/.zfunc) before compinit""",
    "config": "  launch config configs/paper.yaml resources.train.time=08:00:00",
    "prefetch": "  launch prefetch configs/paper.yaml --cache-dir /scratch/$USER/hf-cache",
    "tiny-models": "  launch tiny-models models/tiny",
    "merge": "  launch merge sweeps/paper-20250101-120000/tasks/train/phi-4-mini/qlora/fr/output "
    "merged/phi-4-mini-fr",
}


def add_examples(parser: argparse.ArgumentParser, commands) -> None:
    """An example per command, at the end of its --help (`latest`: the newest sweep)."""
    parser.epilog = (
        "a sweep folder may be given as `latest`: the newest sweep under sweeps/ "
        f"(or ${sweep_list.SWEEPS_ENV}).\n`launch COMMAND --help` shows examples."
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    for name, command in commands.choices.items():
        if name in EXAMPLES:
            command.epilog = "examples:\n" + EXAMPLES[name]
            command.formatter_class = argparse.RawDescriptionHelpFormatter
