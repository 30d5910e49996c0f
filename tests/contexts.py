"""Data fixtures: stage contexts built by hand, and a split output of the synthetic corpus.

`split_output` is the folder a split task leaves behind (train/, validation/, test_novel/,
test_same_topic/, split_report.*) for 40 synthetic topics in en, fr, de and ja; train and
evaluate tests read it with `babelsum.data.splits.load_split`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

SMALL_SYNTHETIC = {
    "study": "data-test",
    "languages": ["en", "fr", "de", "ja"],
    "data": {"source": "synthetic", "synthetic": {"topics": 40, "seed": 0}},
    "split": {"validation_topics": 4, "test_novel_topics": 6, "test_same_topic_per_pair": 4},
    "train": {"languages": ["en"]},
}


def make_context(sweep_dir: Path, data: dict, stage: str, upstream: dict[str, Path] | None = None):
    """A StageContext for `stage` of the config `data`, outputs under sweep_dir/<stage>/.

    `upstream` maps task keys (prepare, teacher/shard-0000) to finished output folders; they
    are copied where `ctx.input` looks for them.
    """
    from babelsum.config import validate_config
    from babelsum.plan import make_plan
    from babelsum.stages import StageContext
    from babelsum.state import SweepFolder
    from babelsum.tracking import Tracker

    config = validate_config(data)
    plan = make_plan(config)
    task = plan.stage(stage).tasks[0]
    folder = SweepFolder(sweep_dir)
    for key, path in (upstream or {}).items():
        target = folder.output_dir(key)
        if not target.exists():
            shutil.copytree(path, target)
    output_dir = sweep_dir / stage.replace("/", "_") / "output"
    work_dir = sweep_dir / stage.replace("/", "_") / "work"
    output_dir.mkdir(parents=True, exist_ok=True)
    work_dir.mkdir(parents=True, exist_ok=True)
    return StageContext(
        folder=folder,
        plan=plan,
        config=config,
        task=task,
        output_dir=output_dir,
        work_dir=work_dir,
        tracker=Tracker(sweep_dir / stage.replace("/", "_") / "journal.jsonl"),
    )


def run_prepare_and_split(sweep_dir: Path, data: dict) -> Path:
    """Run the prepare and split stages of `data`; the split's output folder."""
    from babelsum.stages import prepare, split

    ctx = make_context(sweep_dir, data, "prepare")
    prepare.run(ctx)
    ctx = make_context(sweep_dir, data, "split", upstream={"prepare": ctx.output_dir})
    split.run(ctx)
    return ctx.output_dir
