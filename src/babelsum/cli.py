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

from babelsum import api, backends
from babelsum.backends import RunOptions
from babelsum.config import load_config
from babelsum.errors import UserError
from babelsum.plan import Plan
from babelsum.state import ENDED, State, SweepFolder
from babelsum.sweep import TaskView, default_sweep_dir, load_sweep, open_sweep

SHOWN_STATES = (State.DONE, State.RUNNING, State.PENDING, State.FAILED, State.BLOCKED, State.LOST)
PROBLEMS = (State.FAILED, State.LOST, State.BLOCKED)


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

        found = findings(config, Path(args.config).resolve().parent, args.executor)
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
            lines.append(f"  {v.task.key}: [{v.cause or 'unknown'}] {v.reason or ''}".rstrip())
            last = last_error_line(v)
            if last and last not in (v.reason or ""):
                lines.append(f"      last error line: {last}")
            if v.status.log:
                lines.append(f"      log: {v.status.log}  (`launch logs SWEEP {v.task.key}`)")
        if len(failed) > 50:
            lines.append(f"  ... and {len(failed) - 50} more (`launch status --json`)")
    reused = [v for v in views if v.status.reused_from]
    if reused:
        lines.append(
            f"\nreused: {len(reused)} task(s) took the output of a done task with the same "
            f"identity, e.g. {reused[0].task.key} from {reused[0].status.reused_from}"
        )
    blocked = [v for v in views if v.state == State.BLOCKED]
    if blocked:
        lines.append(
            f"\nblocked: {len(blocked)} task(s) whose inputs are missing, e.g. {blocked[0].task.key}: "
            f"{blocked[0].status.reason}"
        )
    return "\n".join(lines)


def last_error_line(view: TaskView) -> str | None:
    """The last line of the recorded traceback, if the task recorded one."""
    lines = (view.status.error or "").strip().splitlines()
    return lines[-1].strip() if lines else None


def status_json(folder: SweepFolder, views: list[TaskView]) -> str:
    tasks = [
        {
            "key": v.task.key,
            "stage": v.task.stage,
            "state": v.state,
            "cause": v.cause,
            "reason": v.reason,
            "last_error_line": last_error_line(v),
            "log": v.status.log,
            "reused_from": v.status.reused_from,
            "timing": v.status.timing,
            "attempts": v.status.attempts,
            "job_id": v.status.job_id,
            "array_job_id": v.status.array_job_id,
            "host": v.status.host,
            "summary": v.status.summary,
        }
        for v in views
    ]
    counts = dict(Counter(str(v.state) for v in views))
    return json.dumps({"sweep": str(folder.root), "tasks": tasks, "counts": counts}, indent=2)


def print_status(
    folder: SweepFolder, plan: Plan, final: bool = False, as_json: bool = False
) -> int:
    views = api.views(folder, plan)
    print(status_json(folder, views) if as_json else status_table(views, plan))
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
    views = api.views(folder, plan)
    if args.timing:
        print(timing_table(views, plan))
        return 0
    print(status_json(folder, views) if args.json else status_table(views, plan))
    return 1 if any(v.state in (State.FAILED, State.LOST) for v in views) else 0


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
        views = api.to_rerun(args.sweep_dir, args.stage, args.task)
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
    print(f"cancelled {api.cancel(args.sweep_dir)} task(s)")
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
    s.add_argument("sweep_dir")
    s.add_argument("--json", action="store_true")
    s.add_argument(
        "--timing", action="store_true", help="where the time went, per stage (done tasks)"
    )
    s.set_defaults(func=cmd_status)

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
    s.add_argument("--mem", help="new memory for the resubmitted stages, e.g. 64G")
    s.add_argument("--time", help="new time limit for the resubmitted stages, e.g. 08:00:00")
    s.add_argument("--executor", choices=backends.NAMES, help="default: the sweep's executor")
    s.add_argument("--wait", action="store_true")
    s.add_argument("--jobs", type=int)
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=cmd_resubmit)

    s = sub.add_parser("logs", help="print a task's log (either backend)")
    s.add_argument("sweep_dir")
    s.add_argument("key", help="a task key, e.g. train/qwen2.5-0.5b/full/fr")
    s.add_argument("--tail", type=int, metavar="N", help="only the last N lines")
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
