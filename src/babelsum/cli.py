"""`launch`: the researcher's commands. Thin: parse, call, print.

Only the commands that run ML work import ML libraries, and only when they run, so that
`launch --help`, `launch sweep --dry-run` and `launch status` stay fast on a login node.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

from babelsum import backends
from babelsum.backends import RunOptions
from babelsum.config import SweepConfig, load_config
from babelsum.errors import SweepError, UserError
from babelsum.plan import Plan, Task
from babelsum.state import ACTIVE, ENDED, State, SweepFolder
from babelsum.sweep import (
    TaskView,
    create_sweep,
    default_sweep_dir,
    load_sweep,
    open_sweep,
    read_statuses,
    task_views,
    tasks_to_rerun,
)

SHOWN_STATES = (State.DONE, State.RUNNING, State.PENDING, State.FAILED, State.BLOCKED, State.LOST)
PROBLEMS = (State.FAILED, State.LOST, State.BLOCKED)


# ------------------------------------------------------------------ sweep


def cmd_sweep(args: argparse.Namespace) -> int:
    config = load_config(args.config, args.overrides)
    backend = backends.get(args.executor)
    sweep_dir = Path(args.sweep_dir) if args.sweep_dir else default_sweep_dir(config)
    if args.dry_run:
        from babelsum.plan import make_plan

        print_dry_run(make_plan(config), config, sweep_dir, backend)
        return 0
    folder, plan = create_sweep(config, sweep_dir, backend.name, str(args.config))
    print(f"sweep folder: {folder.root}  ({len(plan.tasks())} tasks)")
    if config.tracking.enabled:
        from babelsum.tracking import start_sweep_run

        start_sweep_run(folder.root, config, backend.parallel_tasks(config))
    return launch(folder, config, plan, plan.tasks(), backend, args)


def launch(
    folder: SweepFolder,
    config: SweepConfig,
    plan: Plan,
    tasks: list[Task],
    backend: backends.Backend,
    args: argparse.Namespace,
) -> int:
    """Run or submit `tasks`; with a queueing backend, follow them only when asked (--wait)."""
    options = RunOptions(parallel=args.jobs, show_progress=not args.quiet)
    try:
        with folder.lock("submit", wait=False):
            for line in backend.submit(folder, config, plan, tasks, options):
                print(line)
    except BlockingIOError:
        raise SweepError(
            f"{folder.root} is being submitted by another `launch` right now"
        ) from None
    if backend.runs_to_completion:
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
            for line in backend.describe(stage.name, tasks, config, res, sweep_dir):
                print(f"  {line}")


# ------------------------------------------------------------------ status


def _views(folder: SweepFolder, plan: Plan) -> list[TaskView]:
    statuses = read_statuses(folder, plan)
    return task_views(plan, statuses, backends.lost_tasks(statuses))


def status_table(views: list[TaskView], plan: Plan) -> str:
    lines = [f"{'stage':<10}{'tasks':>7}" + "".join(f"{s:>9}" for s in SHOWN_STATES)]
    for stage in plan.stages:
        counts = Counter(v.state for v in views if v.task.stage == stage.name)
        lines.append(
            f"{stage.name:<10}{len(stage.tasks):>7}"
            + "".join(f"{counts.get(s, 0):>9}" for s in SHOWN_STATES)
        )
    failed = [v for v in views if v.state in (State.FAILED, State.LOST)]
    if failed:
        lines.append("\nfailed or lost:")
        for v in failed[:50]:
            reason = v.status.reason or (
                "its job or process disappeared (killed?)" if v.state == State.LOST else ""
            )
            lines.append(f"  {v.task.key}: {reason}")
    blocked = [v for v in views if v.state == State.BLOCKED]
    if blocked:
        lines.append(
            f"\nblocked: {len(blocked)} task(s) whose inputs are missing, e.g. {blocked[0].task.key}: "
            f"{blocked[0].status.reason}"
        )
    return "\n".join(lines)


def print_status(
    folder: SweepFolder, plan: Plan, final: bool = False, as_json: bool = False
) -> int:
    views = _views(folder, plan)
    if as_json:
        print(
            json.dumps(
                {
                    "sweep": str(folder.root),
                    "tasks": [
                        {
                            "key": v.task.key,
                            "stage": v.task.stage,
                            "state": v.state,
                            "reason": v.status.reason,
                            "attempts": v.status.attempts,
                            "job_id": v.status.job_id,
                            "array_job_id": v.status.array_job_id,
                            "host": v.status.host,
                            "summary": v.status.summary,
                        }
                        for v in views
                    ],
                    "counts": dict(Counter(str(v.state) for v in views)),
                },
                indent=2,
            )
        )
    else:
        print(status_table(views, plan))
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
    folder, plan = open_sweep(args.sweep_dir)
    print_status(folder, plan, as_json=args.json)
    return 0


def wait_for(folder: SweepFolder, plan: Plan, poll_s: float = 10.0) -> int:
    while True:
        views = _views(folder, plan)
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
    folder, config, plan = load_sweep(args.sweep_dir)
    backend = backends.get(args.executor or folder.meta().get("executor", "local"))
    views = {v.task.key: v for v in _views(folder, plan)}
    queued = [k for k, v in views.items() if v.state in ACTIVE and v.status.job_id]
    if queued and not args.dry_run:
        raise SweepError(
            f"{len(queued)} task(s) are still queued or running (e.g. {queued[0]}); "
            f"wait, or `launch cancel {args.sweep_dir}` first"
        )
    tasks = tasks_to_rerun(folder, plan, args.stage)
    if not tasks:
        print("every task is done; nothing to resubmit")
        return 0
    by_stage = Counter(t.stage for t in tasks)
    print(
        f"resubmitting {len(tasks)} task(s): " + ", ".join(f"{s} {n}" for s, n in by_stage.items())
    )
    if args.dry_run:
        for t in tasks:
            print(f"  {t.key}  ({views[t.key].state})")
        return 0
    changes = {k: v for k, v in (("mem", args.mem), ("time", args.time)) if v}
    if changes:
        plan = plan.with_resources(set(by_stage), **changes)
        folder.write_plan(plan)
        tasks = [plan.by_key()[t.key] for t in tasks]
    for t in tasks:
        folder.update_status(t, durable=False, state=State.PENDING, reason=None)
    return launch(folder, config, plan, tasks, backend, args)


def cmd_cancel(args: argparse.Namespace) -> int:
    folder, plan = open_sweep(args.sweep_dir)
    active = [
        v.status
        for v in _views(folder, plan)
        if v.state in ACTIVE and (v.status.job_id or v.status.pid)
    ]
    by_backend: dict[str, list] = {}
    for status in active:
        by_backend.setdefault(status.executor or "local", []).append(status)
    for name, statuses in by_backend.items():
        backends.get(name).cancel(statuses)
    for status in active:
        task = plan.by_key()[status.key]
        folder.update_status(task, state=State.FAILED, reason="cancelled by `launch cancel`")
    print(f"cancelled {len(active)} task(s)")
    return 0


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
    command = ui_command(folder, config)
    print("running:", " ".join(command))
    return subprocess.call(command)


def cmd_prefetch(args: argparse.Namespace) -> int:
    config = load_config(args.config, args.overrides)
    from babelsum.hub import prefetch

    manifest = prefetch(config, args.cache_dir)
    print(f"manifest: {manifest}")
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


# ------------------------------------------------------------------ parser


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="launch", description="babelsum: multilingual summarization sweeps on SLURM"
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("sweep", help="expand a config into stages of tasks and run or submit them")
    s.add_argument("config", help="sweep config YAML (e.g. configs/demo.yaml)")
    s.add_argument("overrides", nargs="*", metavar="key.sub=value", help="override config values")
    s.add_argument("--executor", choices=backends.NAMES, default="local")
    s.add_argument("--sweep-dir", help="sweep folder (default: sweeps/<study>-<time>)")
    s.add_argument(
        "--dry-run", action="store_true", help="print the plan and sbatch options; submit nothing"
    )
    s.add_argument(
        "--wait", action="store_true", help="slurm: follow progress until the sweep ends"
    )
    s.add_argument(
        "--jobs",
        type=int,
        help="local: tasks run in parallel (default engine.local_parallel_tasks)",
    )
    s.add_argument("--quiet", action="store_true", help="no progress bars")
    s.set_defaults(func=cmd_sweep)

    s = sub.add_parser("status", help="per-stage counts and failure reasons of a sweep")
    s.add_argument("sweep_dir")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_status)

    s = sub.add_parser(
        "resubmit", help="rerun only the tasks that did not finish, then what they feed"
    )
    s.add_argument("sweep_dir")
    s.add_argument("--stage", action="append", help="only tasks of this stage (repeatable)")
    s.add_argument("--dry-run", action="store_true")
    s.add_argument("--mem", help="new memory for the resubmitted stages, e.g. 64G")
    s.add_argument("--time", help="new time limit for the resubmitted stages, e.g. 08:00:00")
    s.add_argument("--executor", choices=backends.NAMES, help="default: the sweep's executor")
    s.add_argument("--wait", action="store_true")
    s.add_argument("--jobs", type=int)
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=cmd_resubmit)

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
    s.set_defaults(func=cmd_ui)

    s = sub.add_parser(
        "prefetch", help="on a login node: download every model and dataset a config names"
    )
    s.add_argument("config")
    s.add_argument("overrides", nargs="*", metavar="key.sub=value")
    s.add_argument("--cache-dir", help="Hugging Face hub cache (default: HF_HUB_CACHE)")
    s.set_defaults(func=cmd_prefetch)

    s = sub.add_parser("tiny-models", help="build tiny random models of the study's architectures")
    s.add_argument("out_dir")
    s.add_argument(
        "--topics", type=int, default=160, help="synthetic topics to train the tokenizer on"
    )
    s.set_defaults(func=cmd_tiny_models)

    s = sub.add_parser("merge", help="merge a LoRA adapter into its base model")
    s.add_argument("adapter_dir")
    s.add_argument("out_dir")
    s.set_defaults(func=cmd_merge)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
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
