"""`launch`: the researcher's commands. Thin: parse, call, print.

Only the commands that run ML work import ML libraries, and only when they run, so that
`launch --help`, `launch sweep --dry-run` and `launch status` stay fast on a login node.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import typing
from collections import Counter
from pathlib import Path

from babelsum import api, backends, status_view, sweep_list
from babelsum.backends import RunOptions
from babelsum.config import dump_config, load_config
from babelsum.config.units import slurm_mem, slurm_time
from babelsum.errors import UserError
from babelsum.plan import Plan
from babelsum.state import ENDED, State, SweepFolder
from babelsum.status_view import SHOWN_STATES
from babelsum.sweep import TaskView, default_sweep_dir, load_sweep, open_sweep

PROBLEMS = (State.FAILED, State.LOST, State.BLOCKED, State.UNKNOWN)


# ------------------------------------------------------------------ sweep


def cmd_sweep(args: argparse.Namespace) -> int:
    if args.dry_run:
        config, plan = api.dry_run(args.config, args.overrides)
        sweep_dir = Path(args.sweep_dir) if args.sweep_dir else default_sweep_dir(config)
        print_dry_run(plan, config, sweep_dir, backends.get(args.executor))
        if args.reuse_from or config.engine.cache_dir:
            from babelsum.reuse import find_reusable

            cache = config.engine.cache_dir
            found = find_reusable(
                plan, [Path(s) for s in args.reuse_from or []], Path(cache) if cache else None
            )
            counts = Counter(key.split("/")[0] for key in found)
            shown = ", ".join(f"{stage} {n}" for stage, n in counts.items()) or "none"
            print(f"\nwould be reused from done tasks with the same identity: {shown}")
        if args.no_preflight:
            print("\npreflight: skipped (--no-preflight)")
            return 0
        from babelsum.preflight import findings

        found = findings(config, Path(args.config[0]).resolve().parent, args.executor)
        problems = found.problems
        print("\npreflight: " + (f"{len(problems)} problem(s)" if problems else "no problem"))
        for line in [*problems, *(f"(notice) {n}" for n in found.notices)]:
            print(f"  {line}")
        return 1 if problems else 0
    if args.no_preflight:
        print("preflight: skipped (--no-preflight)")
    new = api.create(
        args.config,
        args.overrides,
        executor=args.executor,
        sweep_dir=args.sweep_dir,
        preflight=not args.no_preflight,
        reuse_from=args.reuse_from or [],
    )
    for notice in new.notices:
        print(f"preflight notice: {notice}")
    print(f"sweep folder: {new.folder.root}  ({len(new.plan.tasks())} tasks)")
    if new.reused:
        counts = Counter(key.split("/")[0] for key in new.reused)
        shown = ", ".join(f"{stage} {n}" for stage, n in counts.items())
        print(f"reused {len(new.reused)} done task(s) with the same identity: {shown}")
    tasks = api.to_run(new)
    if not tasks:
        print("every task was reused; nothing to run")
        return print_status(new.folder, new.plan, final=True)
    launched = api.launch(new.folder, new.config, new.plan, tasks, new.backend, _options(args))
    return after_launch(launched, args)


def _options(args: argparse.Namespace) -> RunOptions:
    return RunOptions(parallel=args.jobs, show_progress=not args.quiet)


def after_launch(launched: api.Launched, args: argparse.Namespace) -> int:
    """What was submitted; the final status when the tasks have ended (or --wait)."""
    folder, plan = launched.folder, launched.plan
    for line in launched.submitted:
        print(line)
    if launched.ended:
        return print_status(folder, plan, final=True)
    print(f"follow it with: launch status {folder.root}")
    return wait_for(folder, plan) if args.wait else 0


def print_dry_run(plan: Plan, config, sweep_dir: Path, backend: backends.Backend) -> None:
    print(
        f"dry run: study {config.study!r}, {len(plan.tasks())} tasks, executor {backend.name}, "
        "nothing submitted"
    )
    print(f"sweep folder would be: {sweep_dir}")
    for stage in plan.stages:
        for res, tasks in stage.groups():
            print(f"\n{stage.name}: {len(tasks)} task(s), {res.processes} process(es) each")
            for task in tasks[:3]:
                print(f"  {task.key}")
            if len(tasks) > 3:
                print(f"  ... ({len(tasks) - 3} more)")
    print()
    for line in backend.describe(plan, config, sweep_dir):
        print(line)


# ------------------------------------------------------------------ status


def show_status(folder: SweepFolder, plan: Plan, views: list[TaskView]) -> None:
    """The status table: rich, in colour, on a terminal; plain text in pipes and logs."""
    status = status_view.sweep_status(folder, plan, views)
    if sys.stdout.isatty():
        from rich.console import Console

        Console().print(status_view.rich_status(status))
    else:
        print(status_view.plain_status(status))


def status_json(folder: SweepFolder, plan: Plan, views: list[TaskView]) -> str:
    return status_view.status_json(status_view.sweep_status(folder, plan, views))


def print_status(
    folder: SweepFolder, plan: Plan, final: bool = False, as_json: bool = False
) -> int:
    views = api.views(folder, plan)
    if as_json:
        print(status_json(folder, plan, views))
    else:
        show_status(folder, plan, views)
    bad = [v for v in views if v.state in PROBLEMS]
    if final and not as_json:
        if bad:
            print(
                f"\n{len(bad)} task(s) did not finish: fix the cause, then `launch resubmit {folder.root}`"
            )
        report = folder.output_dir("gather") / "report.md"
        if report.exists():
            print(f"report: {report}")
    return 1 if (final and bad) else 0


def cmd_status(args: argparse.Namespace) -> int:
    """Exit code 1 when a task failed or was lost (scripts can act on it), else 0."""
    folder, plan = open_sweep(args.sweep_dir)
    if args.watch is not None:
        return watch_status(folder, plan, args.watch)
    views = api.views(folder, plan)
    if args.timing:
        print(timing_table(views, plan))
        return 0
    if args.json:
        print(status_json(folder, plan, views))
    else:
        show_status(folder, plan, views)
    return failed_code(views)


def failed_code(views: list[TaskView]) -> int:
    return 1 if any(v.state in (State.FAILED, State.LOST, State.UNKNOWN) for v in views) else 0


def watch_status(folder: SweepFolder, plan: Plan, seconds: float) -> int:
    """Refresh the status every `seconds` until every task has ended, or Ctrl-C: in place on
    a terminal; elsewhere (a log file) a new table each time the counts change."""
    import contextlib

    live = None
    if sys.stdout.isatty():
        from rich.live import Live

        live = Live(auto_refresh=False)
    views = api.views(folder, plan)
    shown = None
    try:
        with live or contextlib.nullcontext():
            while True:
                status = status_view.sweep_status(folder, plan, views)
                if live is not None:
                    live.update(status_view.rich_status(status), refresh=True)
                elif Counter(v.state for v in views) != shown:
                    shown = Counter(v.state for v in views)
                    print(f"{time.strftime('%H:%M:%S')} {status_view.plain_status(status)}\n")
                    sys.stdout.flush()
                if all(v.state in ENDED for v in views):
                    break
                time.sleep(seconds)
                views = api.views(folder, plan)
    except KeyboardInterrupt:  # the way to stop watching: not an error
        pass
    return failed_code(views)


def timing_table(views: list[TaskView], plan: Plan) -> str:
    """Where the done tasks' time went, summed per stage: startup (process start and imports,
    or the gap after the previous task of a job), the stage's own sections, and the rest."""
    sections = ["startup", "model_load", "generation", "scoring", "train", "stage"]
    lines = [
        f"{'stage':<10}{'done':>6}" + "".join(f"{s:>12}" for s in sections) + f"{'model share':>13}"
    ]
    for stage in plan.stages:
        timings = [v.status.timing for v in views if v.task.stage == stage.name and v.status.timing]
        if not timings:
            continue
        total = {s: sum(t.get(s, 0.0) for t in timings) for s in sections}
        spent = total["startup"] + total["stage"]
        model = total["generation"] + total["train"]
        share = f"{model / spent:.0%}" if spent and model else "-"
        lines.append(
            f"{stage.name:<10}{len(timings):>6}"
            + "".join(f"{total[s]:>11.1f}s" for s in sections)
            + f"{share:>13}"
        )
    lines.append(
        "\nseconds summed over done tasks; model share = (generation + train) / (startup + stage)"
    )
    return "\n".join(lines)


def wait_for(folder: SweepFolder, plan: Plan, poll_s: float = 10.0) -> int:
    while True:
        views = api.views(folder, plan)
        counts = Counter(v.state for v in views)
        print(
            time.strftime("%H:%M:%S"),
            " ".join(f"{s}={counts.get(s, 0)}" for s in SHOWN_STATES),
            flush=True,
        )
        if all(v.state in ENDED for v in views):
            return print_status(folder, plan, final=True)
        time.sleep(poll_s)


# ------------------------------------------------------------------ resubmit, cancel


def cmd_resubmit(args: argparse.Namespace) -> int:
    if args.dry_run:
        views, notes = api.to_rerun(
            args.sweep_dir, args.stage, args.task, args.accept_config_change
        )
        for note in notes:
            print(note)
        if views:
            print_rerun([v.task.stage for v in views])
        for v in views:
            print(f"  {v.task.key}  ({v.state})")
        if not views:
            print("every task is done; nothing to resubmit")
        return 0
    launched = api.resubmit(
        args.sweep_dir,
        stages=args.stage,
        patterns=args.task,
        mem=args.mem,
        time=args.time,
        executor=args.executor,
        options=_options(args),
        accept_config_change=args.accept_config_change,
    )
    if launched is None:
        print("every task is done; nothing to resubmit")
        return 0
    for note in launched.notes:
        print(note)
    if not launched.tasks:
        return 1
    print_rerun([t.stage for t in launched.tasks])
    return after_launch(launched, args)


def print_rerun(stages: list[str]) -> None:
    counts = Counter(stages)
    print(
        f"resubmitting {len(stages)} task(s): " + ", ".join(f"{s} {n}" for s, n in counts.items())
    )


def cmd_logs(args: argparse.Namespace) -> int:
    """The task's log(s); --follow keeps printing until the task has ended."""
    files = api.log_files(args.sweep_dir, args.key)
    for path in files:
        if len(files) > 1:
            print(f"==> {path} <==")
        if not path.exists():
            print(f"(no {path.name} yet)")
            continue
        lines = path.read_text(errors="replace").splitlines()
        print("\n".join(lines[-args.tail :] if args.tail else lines))
    if not args.follow:
        return 0
    folder, _ = open_sweep(args.sweep_dir)
    offsets = {p: p.stat().st_size if p.exists() else 0 for p in files}
    while True:
        for path in files:
            if path.exists() and path.stat().st_size > offsets[path]:
                with open(path, errors="replace") as f:
                    f.seek(offsets[path])
                    sys.stdout.write(f.read())
                    offsets[path] = f.tell()
                sys.stdout.flush()
        status = folder.read_status(args.key)
        if status is not None and status.state in ENDED:
            return 0
        time.sleep(1.0)


def cmd_cancel(args: argparse.Namespace) -> int:
    cancelled = api.cancel(args.sweep_dir)
    print(f"cancelled {len(cancelled.stopped)} task(s); nothing more of this sweep starts")
    for note in cancelled.notes:
        print(note)
    return 1 if cancelled.notes else 0


# ------------------------------------------------------------------ other commands


def cmd_report(args: argparse.Namespace) -> int:
    from babelsum.report import render_terminal

    print(render_terminal(*load_sweep(args.sweep_dir)))
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from babelsum.metrics.rouge import score_files

    scores = score_files(args.pred, args.ref, args.lang)
    print(json.dumps(scores, indent=2, ensure_ascii=False))
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    from babelsum.tracking import sync_sweep

    print(json.dumps(sync_sweep(*load_sweep(args.sweep_dir)), indent=2))
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    import subprocess

    from babelsum.tracking import ui_command

    folder, config, _ = load_sweep(args.sweep_dir)
    command = ui_command(folder, config, port=args.port, host=args.host)
    print("running:" if not args.dry_run else "would run:", " ".join(command))
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"note: the MLflow UI has no login: whoever reaches {args.host}:{args.port} can see "
            "and change this sweep's runs",
            file=sys.stderr,
        )
    return 0 if args.dry_run else subprocess.call(command)


def cmd_config(args: argparse.Namespace) -> int:
    """The config as a sweep would record it: files merged, includes and overrides applied,
    defaults filled in. Invalid: its errors, exit 2 (main prints them)."""
    print(dump_config(load_config(args.config, args.overrides)), end="")
    return 0


def cmd_prefetch(args: argparse.Namespace) -> int:
    config = load_config(args.config, args.overrides)
    from babelsum.prefetch import prefetch

    for line in prefetch(config, Path(args.config[0]).resolve().parent, args.cache_dir):
        print(line)
    return 0


def cmd_tiny_models(args: argparse.Namespace) -> int:
    from babelsum.data.synthetic import synthetic_articles
    from babelsum.models.tiny import build_tiny_models

    texts = [
        a["text"]
        for a in synthetic_articles(topics=args.topics, seed=0, languages=["en", "fr", "de", "ja"])
    ]
    for family, path in build_tiny_models(Path(args.out_dir), texts).items():
        print(f"{family:<8} {path}")
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    from babelsum.training.merge import merge_adapter

    print(f"merged model: {merge_adapter(Path(args.adapter_dir), Path(args.out_dir))}")
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    from babelsum.publish import push

    pushed = push(args.train_output, args.repo_id, private=args.private, dry_run=args.dry_run)
    for line in pushed.lines(args.repo_id):
        print(line)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    root = Path(args.folder) if args.folder else sweep_list.sweeps_root()
    sweeps = api.list_sweeps(root)
    if sys.stdout.isatty():
        from rich.console import Console

        Console().print(status_view.rich_list(sweeps, root))
    else:
        print(status_view.plain_list(sweeps, root))
    return 0


def cmd_completion(args: argparse.Namespace) -> int:
    import shtab

    parser = build_parser()
    # argparse has no public walk over a parser's arguments; shtab itself reads _actions
    for action in parser._actions:
        for sub in (action.choices or {}).values() if action.dest == "command" else []:
            for arg in sub._actions:
                if arg.dest in ("sweep_dir", "folder", "out_dir", "adapter_dir"):
                    arg.complete = shtab.DIRECTORY
                elif arg.dest in ("inputs", "config", "pred", "ref"):
                    arg.complete = shtab.FILE
    print(shtab.complete(parser, shell=args.shell))
    return 0


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
    s.set_defaults(func=cmd_sweep)

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
    s.set_defaults(func=cmd_status)

    s = sub.add_parser("list", help="the sweeps under a folder, newest first")
    s.add_argument(
        "folder", nargs="?", help=f"default: sweeps/ (or ${sweep_list.SWEEPS_ENV} when set)"
    )
    s.set_defaults(func=cmd_list)

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
    s.set_defaults(func=cmd_resubmit)

    s = sub.add_parser("logs", help="print a task's log (either backend)")
    s.add_argument("sweep_dir")
    s.add_argument("key", help="a task key, e.g. train/qwen2.5-0.5b/full/fr")
    s.add_argument("--tail", type=positive_int, metavar="N", help="only the last N lines")
    s.add_argument("--follow", action="store_true", help="keep printing until the task ends")
    s.set_defaults(func=cmd_logs)

    s = sub.add_parser("cancel", help="cancel a sweep's queued and running tasks")
    s.add_argument("sweep_dir")
    s.set_defaults(func=cmd_cancel)

    s = sub.add_parser("report", help="print the cross-lingual matrices of a finished sweep")
    s.add_argument("sweep_dir")
    s.set_defaults(func=cmd_report)

    s = sub.add_parser("score", help="multilingual ROUGE of predictions against references (JSON)")
    s.add_argument("--lang", required=True)
    s.add_argument("--pred", required=True, help="one prediction per line")
    s.add_argument("--ref", required=True, help="one reference per line")
    s.set_defaults(func=cmd_score)

    s = sub.add_parser(
        "sync", help="replay into MLflow what the tasks logged while it was unreachable"
    )
    s.add_argument("sweep_dir")
    s.set_defaults(func=cmd_sync)

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
    s.set_defaults(func=cmd_ui)

    s = sub.add_parser("completion", help="print a shell completion script for `launch`")
    s.add_argument("shell", choices=["bash", "zsh", "tcsh"])
    s.set_defaults(func=cmd_completion)

    s = sub.add_parser(
        "prefetch", help="on a login node: download every model and dataset a config names"
    )
    add_config_inputs(s)
    s.add_argument(
        "--cache-dir", type=new_sweep_dir, help="Hugging Face hub cache (default: HF_HUB_CACHE)"
    )
    s.set_defaults(func=cmd_prefetch)

    s = sub.add_parser(
        "config", help="print the resolved config: files merged, includes and overrides applied"
    )
    add_config_inputs(s)
    s.set_defaults(func=cmd_config)

    s = sub.add_parser("tiny-models", help="build tiny random models of the study's architectures")
    s.add_argument("out_dir", type=new_sweep_dir)
    s.add_argument(
        "--topics",
        type=positive_int,
        default=160,
        help="synthetic topics to train the tokenizer on",
    )
    s.set_defaults(func=cmd_tiny_models)

    s = sub.add_parser("merge", help="merge a LoRA adapter into its base model")
    s.add_argument("adapter_dir")
    s.add_argument("out_dir", type=new_sweep_dir)
    s.set_defaults(func=cmd_merge)

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
    s.set_defaults(func=cmd_push)
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


def use_latest(args: argparse.Namespace) -> None:
    """`latest` as a sweep folder: the newest sweep under sweeps/ (or $BABELSUM_SWEEPS)."""
    if args.command != "sweep" and getattr(args, "sweep_dir", None):
        args.sweep_dir = _resolved(args.sweep_dir)
    if getattr(args, "reuse_from", None):
        args.reuse_from = [_resolved(s) for s in args.reuse_from]


def _resolved(sweep_dir: str) -> str:
    path, picked = sweep_list.resolve(sweep_dir)
    if picked:
        print(f"latest: {path}", file=sys.stderr)
    return str(path)


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(build_parser(), argv)
    except SystemExit as exc:  # --help, --version, or a refused argument (one line printed)
        return exc.code if isinstance(exc.code, int) else 0
    try:
        use_latest(args)
        code = args.func(args)
        sys.stdout.flush()  # a reader gone away shows here, where it is handled below
        return code
    except BrokenPipeError:
        # `launch status | head`: the reader has what it wanted. Python's recipe: point
        # stdout at devnull, so that the flush at exit does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except UserError as exc:
        for line in exc.lines():
            print(f"error: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "\ninterrupted; `launch resubmit SWEEP_DIR` continues where it stopped", file=sys.stderr
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
