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
from collections import Counter
from pathlib import Path

from babelsum import api, backends, status_view, sweep_list
from babelsum.backends import RunOptions
from babelsum.cli_args import build_parser, parse_args
from babelsum.config import dump_config, load_config
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


# `launch NAME` runs COMMANDS[NAME]; cli_args.build_parser gives each its arguments
COMMANDS = {
    "sweep": cmd_sweep,
    "status": cmd_status,
    "list": cmd_list,
    "resubmit": cmd_resubmit,
    "logs": cmd_logs,
    "cancel": cmd_cancel,
    "report": cmd_report,
    "score": cmd_score,
    "sync": cmd_sync,
    "ui": cmd_ui,
    "completion": cmd_completion,
    "prefetch": cmd_prefetch,
    "config": cmd_config,
    "tiny-models": cmd_tiny_models,
    "merge": cmd_merge,
    "push": cmd_push,
}


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(build_parser(), argv)
    except SystemExit as exc:  # --help, --version, or a refused argument (one line printed)
        return exc.code if isinstance(exc.code, int) else 0
    try:
        use_latest(args)
        code = COMMANDS[args.command](args)
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
