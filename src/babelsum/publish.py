"""`launch push TRAIN_OUTPUT REPO_ID`: a trained model or adapter on the Hugging Face Hub,
with a model card built from its run.

The card says what the sweep knows about the run: the base model, the method and its
hyperparameters, the training language and data, the study's languages, and, once the
sweep's gather task has run, this model's evaluation cells with their 95% intervals and its
difference from the base model. The files go up in one commit from a folder beside the
task's output, `tasks/<key>/push/` (hard links to the model's files, the card,
train_summary.json): nothing is written outside the sweep folder, and the output stays as
the task left it (reused outputs are hard links shared with other sweeps).

A login-node command: huggingface_hub is imported only where it is used, and no ML library.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babelsum.config import SweepConfig, TrainMethod
from babelsum.errors import PushError
from babelsum.hub import looks_local
from babelsum.plan import key_seed
from babelsum.state import SweepFolder
from babelsum.sweep import load_sweep

PUSH_DIR = "push"  # beside the task's output/ and work/
SUMMARY = "train_summary.json"
METHODS = {
    "full": "full fine-tuning",
    "lora": "LoRA adapters",
    "qlora": "QLoRA: LoRA adapters on the base model's weights quantized to 4-bit NF4",
    "seq2seq": "sequence-to-sequence fine-tuning",
}
# method fields that say how a run was kept, not how it learned
BOOKKEEPING = {"model", "method", "name", "resources", "save_steps", "save_total_limit"}
BOOKKEEPING |= {"logging_steps"}
SHOWN_METRICS = ("rouge1", "rouge2", "rougeL")


@dataclass
class TrainedRun:
    """A train task of a sweep, with what its card needs."""

    folder: SweepFolder
    config: SweepConfig
    key: str
    params: dict[str, Any]
    method: TrainMethod
    summary: dict[str, Any]  # train_summary.json ({} when the task wrote none)

    @property
    def output(self) -> Path:
        return self.folder.output_dir(self.key)

    @property
    def is_adapter(self) -> bool:
        return self.method.method in ("lora", "qlora")


@dataclass
class Pushed:
    folder: Path  # what was (or would be) uploaded: tasks/<key>/push
    files: list[str]
    size: int
    url: str | None  # None for a dry run

    def lines(self, repo_id: str) -> list[str]:
        shown = f"{len(self.files)} files ({self.size / 1e6:.1f} MB)"
        if self.url is not None:
            return [f"pushed {shown} to {self.url}", f"model card: {self.folder / 'README.md'}"]
        return [
            f"dry run: would push {shown} to {repo_id}; nothing uploaded",
            f"model card: {self.folder / 'README.md'}",
            *(f"  {name}" for name in self.files),
        ]


def push(
    train_output: str | Path, repo_id: str, *, private: bool = False, dry_run: bool = False
) -> Pushed:
    """Publish the model (or adapter) of a train task's output as `repo_id`, with its card."""
    check_repo_id(repo_id)
    run = find_run(train_output)
    staged = stage_files(run, model_card(run, repo_id))
    files = sorted(str(p.relative_to(staged)) for p in staged.rglob("*") if p.is_file())
    size = sum((staged / name).stat().st_size for name in files)
    url = None if dry_run else upload(staged, repo_id, private, run)
    return Pushed(staged, files, size, url)


# ------------------------------------------------------------------ the run


def find_run(train_output: str | Path) -> TrainedRun:
    """The train task whose output folder is `train_output` (or its task folder)."""
    path = Path(train_output).expanduser().resolve()
    if not path.is_dir():
        raise PushError(f"{train_output}: no such folder; give a train task's output folder")
    if path.name != "output" and (path / "output").is_dir():
        path = path / "output"  # the task's folder
    root = next((p for p in path.parents if (p / "sweep.json").is_file()), None)
    parts = path.relative_to(root).parts if root is not None else ()
    if len(parts) < 3 or parts[0] != "tasks" or parts[-1] != "output":
        raise PushError(
            f"{train_output} is not a task's output folder in a sweep; give "
            "SWEEP/tasks/train/MODEL/METHOD/LANG/output"
        )
    key = "/".join(parts[1:-1])
    folder, config, plan = load_sweep(root)
    task = plan.by_key().get(key)
    if task is None or task.stage != "train":
        raise PushError(f"{train_output}: {key} is not a train task of the sweep {root}")
    if not (path / "model").is_dir():
        raise PushError(
            f"{path} has no model/ folder: the train task {key} has not finished "
            f"(`launch status {root}`)"
        )
    summary_path = path / SUMMARY
    summary = json.loads(summary_path.read_text(encoding="utf-8")) if summary_path.is_file() else {}
    method = train_method(config, task.params)
    return TrainedRun(folder, config, key, dict(task.params), method, summary)


def train_method(config: SweepConfig, params: dict[str, Any]) -> TrainMethod:
    """The method as the task trained it: its config entry, with the task's seed."""
    for method in config.train.methods:
        if method.model == params["model"] and method.label == params["method"]:
            if "seed" in params:
                return method.model_copy(update={"seed": params["seed"]})
            return method
    raise PushError(
        f"the sweep's config has no train method {params['method']!r} for model "
        f"{params['model']!r}; was config.yaml edited?"
    )


def model_cells(run: TrainedRun) -> list | None:
    """This model's evaluation cells from gather's cells.json; None before gather has run."""
    path = run.folder.output_dir("gather") / "cells.json"
    if not path.is_file():
        return None
    from babelsum.report.cells import read_cells

    try:
        cells = read_cells(path)
    except (ValueError, TypeError, KeyError) as exc:
        raise PushError(f"{path} is not a list of evaluation cells ({exc})") from None
    p, seed = run.params, key_seed(run.params)
    return [
        c
        for c in cells
        if (c.model, c.method, c.train_lang, c.seed)
        == (p["model"], p["method"], p["train_lang"], seed)
        and c.applicable
    ]


# ------------------------------------------------------------------ the card


def model_card(run: TrainedRun, repo_id: str) -> str:
    """The card's text: Hub metadata (YAML) and what the run was, trained and scored."""
    from huggingface_hub import ModelCard, ModelCardData

    config, p = run.config, run.params
    spec = config.models[p["model"]]
    data = ModelCardData(
        base_model=None if looks_local(spec.path) else spec.path,
        datasets=hub_datasets(config) or None,
        language=list(config.languages),
        library_name="peft" if run.is_adapter else "transformers",
        pipeline_tag="summarization" if run.method.method == "seq2seq" else "text-generation",
        metrics=["rouge"],
        tags=["babelsum", "summarization", "cross-lingual", run.method.method],
    )
    body = [
        f"# {repo_id.rsplit('/', 1)[-1]}",
        "",
        f"A fine-tuned version of {shown_base(spec)}, trained for summarization in `{p['train_lang']}` with "
        f"{METHODS[run.method.method]}. Trained by babelsum in the study `{config.study}` "
        f"(task `{run.key}`); the study's languages are {', '.join(config.languages)}.",
        "",
        "## Training",
        "",
        *table(training_rows(run, spec)),
        "",
        "## Hyperparameters",
        "",
        *table(hyperparameter_rows(run.method)),
        "",
        "## Evaluation",
        "",
        *evaluation_lines(model_cells(run)),
        "",
        "## Use",
        "",
        *usage(run, repo_id),
    ]
    card = ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(body) + "\n")
    return str(card)


def shown_base(spec) -> str:
    """The base model as the card names it: its Hub id, or only a local folder's name (a
    cluster path says nothing to a reader and need not be published)."""
    if looks_local(spec.path):
        return f"a local model (`{Path(spec.path).name}`)"
    revision = f" at revision `{spec.revision}`" if spec.revision else ""
    return f"[{spec.path}](https://huggingface.co/{spec.path}){revision}"


def hub_datasets(config: SweepConfig) -> list[str]:
    hf = config.data.hf
    if config.data.source == "hf" and hf is not None and not looks_local(hf.name):
        return [hf.name]
    return []


def data_text(config: SweepConfig) -> str:
    data = config.data
    if data.source == "hf" and data.hf is not None:
        part = f" (config `{data.hf.config_name}`)" if data.hf.config_name else ""
        text = f"the Hugging Face dataset `{data.hf.name}`{part}"
    elif data.source == "wikipedia":
        text = "Wikipedia good and featured articles, and the same topics in the other languages"
    elif data.source == "files":
        text = "local files"
    else:
        text = f"babelsum's synthetic corpus ({data.synthetic.topics} topics)"
    teacher = config.teacher
    if teacher is None:
        references = "the source's own summaries"
    elif teacher.backend == "lead":
        references = "each article's first sentences (`lead` teacher)"
    else:
        references = f"summaries written by `{config.models[teacher.model].path}`"
    return f"{text}; reference summaries: {references}"


def training_rows(run: TrainedRun, spec) -> list[tuple[str, Any]]:
    s = run.summary
    rows = [
        ("base model", shown_base(spec)),
        ("method", f"{run.method.method} ({METHODS[run.method.method]})"),
        ("training language", run.params["train_lang"]),
        ("data", data_text(run.config)),
        ("split", "by topic: a novel-topic test article shares no topic with training data"),
        ("seed", run.method.seed),
        ("training examples", s.get("examples")),
        ("articles truncated to the input budget", s.get("truncated_articles")),
        ("steps", s.get("steps")),
        ("final training loss", _number(s.get("train_loss"))),
        ("best checkpoint", s.get("best_step")),
        ("precision", s.get("precision")),
        ("processes", s.get("processes")),
        ("trainable parameters", _count(s.get("trainable_parameters"))),
        ("parameters", _count(s.get("parameters"))),
    ]
    return [(name, value) for name, value in rows if value is not None]


def hyperparameter_rows(method: TrainMethod) -> list[tuple[str, Any]]:
    values = method.model_dump(mode="json", exclude_none=True, exclude=BOOKKEEPING)
    if values.get("deepspeed"):
        values["deepspeed"] = Path(values["deepspeed"]).name  # a path on the cluster
    return [(name, f"`{value}`") for name, value in values.items()]


def evaluation_lines(cells: list | None) -> list[str]:
    if cells is None:
        return ["No scores yet: the sweep's gather task has not run."]
    if not cells:
        return ["The sweep evaluated no cell of this model."]
    lines = [
        "ROUGE F1 (multilingual tokenization) on held-out articles, with 95% bootstrap intervals "
        "over articles; the difference from the base model is paired, on the same articles. "
        "Test set `novel`: articles whose topic is in no training data, in any language; "
        "`same_topic`: other-language articles on this model's training topics.",
        "",
        "| evaluation language | test set | articles | "
        + " | ".join(SHOWN_METRICS)
        + " | rougeL minus base |",
        "|---|---|---|" + "---|" * (len(SHOWN_METRICS) + 1),
    ]
    for c in cells:
        if not c.done:
            reason = f" ({c.reason})" if c.reason else ""
            lines.append(f"| {c.eval_lang} | {c.test_set} | {c.state}{reason} |")
            continue
        scores = [interval(c.scores.get(m, {})) for m in SHOWN_METRICS]
        delta = c.difference.get("rougeL")
        shown_delta = (
            f"{delta['delta']:+.3f} [{delta['low']:+.3f}, {delta['high']:+.3f}]" if delta else "–"
        )
        lines.append(
            f"| {c.eval_lang} | {c.test_set} | {c.n} | "
            + " | ".join(scores)
            + f" | {shown_delta} |"
        )
    return lines


def interval(score: dict[str, float | None]) -> str:
    if score.get("mean") is None:
        return "–"
    if score.get("low") is None or score.get("high") is None:
        return f"{score['mean']:.3f}"
    return f"{score['mean']:.3f} [{score['low']:.3f}, {score['high']:.3f}]"


def usage(run: TrainedRun, repo_id: str) -> list[str]:
    if run.is_adapter:
        loader = "from peft import AutoPeftModelForCausalLM as Model"
    elif run.method.method == "seq2seq":
        loader = "from transformers import AutoModelForSeq2SeqLM as Model"
    else:
        loader = "from transformers import AutoModelForCausalLM as Model"
    return [
        "```python",
        loader,
        "from transformers import AutoTokenizer",
        "",
        f'model = Model.from_pretrained("{repo_id}")',
        f'tokenizer = AutoTokenizer.from_pretrained("{repo_id}")',
        "```",
        "",
        f"`{SUMMARY}` holds the run's training record (losses per step, data counts).",
    ]


def table(rows: list[tuple[str, Any]]) -> list[str]:
    return ["| | |", "|---|---|", *(f"| {name} | {value} |" for name, value in rows)]


def _number(value: Any) -> str | None:
    return f"{value:.4f}" if isinstance(value, int | float) else None


def _count(value: Any) -> str | None:
    return f"{value:,}" if isinstance(value, int) else None


# ------------------------------------------------------------------ files and upload


def check_repo_id(repo_id: str) -> None:
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise PushError(f"repo id {repo_id!r}: {exc}; e.g. me/qwen2.5-0.5b-full-fr") from None


def stage_files(run: TrainedRun, card: str) -> Path:
    """tasks/<key>/push: the model's files (hard links), train_summary.json and the card."""
    staged = run.folder.inside(run.folder.task_dir(run.key) / PUSH_DIR)
    if staged.exists():
        shutil.rmtree(staged)
    model = run.output / "model"
    for source in sorted(model.rglob("*")):
        relative = source.relative_to(model)
        if source.is_dir() or relative == Path("README.md"):  # PEFT's own card: ours replaces it
            continue
        link_or_copy(source, staged / relative)
    if (run.output / SUMMARY).is_file():
        link_or_copy(run.output / SUMMARY, staged / SUMMARY)
    (staged / "README.md").write_text(card, encoding="utf-8")
    return staged


def link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:  # a filesystem without hard links
        shutil.copy2(source, target)


def upload(staged: Path, repo_id: str, private: bool, run: TrainedRun) -> str:
    """Create `repo_id` when missing and upload `staged` to it in one commit; its URL."""
    import huggingface_hub

    token = huggingface_hub.get_token()
    if not token:
        raise PushError(
            "no Hugging Face token: set HF_TOKEN or log in with `hf auth login` "
            "(a token with write access)"
        )
    api = huggingface_hub.HfApi(token=token)
    try:
        url = api.create_repo(repo_id, private=private or None, exist_ok=True)
        api.upload_folder(
            repo_id=repo_id,
            folder_path=str(staged),
            commit_message=f"babelsum: {run.key} of study {run.config.study}",
        )
    except Exception as exc:
        problem = hub_problem(exc, repo_id)
        if problem is None:
            raise
        raise PushError(f"push to {repo_id}: {problem}") from None
    return str(url)


def hub_problem(exc: Exception, repo_id: str) -> str | None:
    """What went wrong with the Hub, and what to do, in one line; None for anything else."""
    import httpx2  # huggingface_hub's HTTP client: its transport errors mean no connection
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if isinstance(exc, OfflineModeIsEnabled):
        return "HF_HUB_OFFLINE is set: unset it to push"
    if isinstance(exc, HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else None
        if status == 401:
            return "the Hub refused the token (401): set a valid HF_TOKEN or `hf auth login`"
        if status == 403:
            return f"the token may not write to {repo_id} (403): use a token with write access"
        return f"the Hub answered {status}: {first}"
    if isinstance(exc, httpx2.TransportError | ConnectionError | TimeoutError):
        return f"the Hub cannot be reached ({first}); push from a node with internet"
    return None
