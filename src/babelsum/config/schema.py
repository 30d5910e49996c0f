"""What a sweep config may hold: the pydantic models, their limits and cross-checks.

Unknown keys are errors (`extra="forbid"`), so a typo never passes silently. Reading YAML,
overrides and turning validation errors into lines live in load.py. No ML library here.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    field_validator,
    model_validator,
)

from babelsum.errors import ConfigError
from babelsum.lang.codes import LANGUAGES

# The canonical fields of an article (data/schema.py); `columns:` in a source maps to these.
ARTICLE_FIELDS = (
    "article_id",  # topic id shared across languages (Wikidata item, decision id, ...)
    "language",  # ISO 639-1 code of the text
    "title",
    "text",
    "summary",  # None until a teacher writes one, for sources without gold summaries
    "summary_language",  # differs from `language` for cross-lingual data (SLDS fr -> de)
    "summary_source",  # "gold", "teacher" or None
    "url",
    "source",  # synthetic, files, hf or wikipedia
)
STAGES = ("prepare", "teacher", "split", "train", "evaluate", "judge", "gather")
TEST_SETS = ("novel", "same_topic")
METHODS = ("full", "qlora", "lora", "seq2seq")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


def _check_lang(code: str) -> str:
    if code not in LANGUAGES:
        raise ValueError(f"unknown language {code!r}; known: {', '.join(sorted(LANGUAGES))}")
    return code


Lang = Annotated[str, Field(min_length=2, max_length=3)]

_MEM = re.compile(r"^\d+[KMGT]?$")
_TIME = re.compile(r"^(\d+-)?\d{1,2}(:\d{2}){0,2}$")


class _SlurmFormats(Strict):
    """Checks shared by stage resources and their overrides."""

    @field_validator("mem", check_fields=False)
    @classmethod
    def _mem(cls, v: str | None) -> str | None:
        if v is not None and (not _MEM.match(v) or int(re.sub(r"\D", "", v)) <= 0):
            raise ValueError(f"mem must be a positive size like 16G or 4000M, got {v!r}")
        return v

    @field_validator("time", check_fields=False)
    @classmethod
    def _time(cls, v: str | None) -> str | None:
        if v is not None and not _TIME.match(v):
            raise ValueError(f"time must look like HH:MM:SS or D-HH:MM:SS, got {v!r}")
        return v


class Resources(_SlurmFormats):
    """SLURM resources of one stage's array tasks (the local executor reads `processes`)."""

    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    nodes: PositiveInt = 1
    gpus_per_node: NonNegativeInt = 0
    tasks_per_node: PositiveInt = 1
    cpus_per_task: PositiveInt = 1
    mem: str | None = Field(None, description="e.g. 32G")
    time: str | None = Field(None, description="e.g. 04:00:00 or 1-00:00:00")
    constraint: str | None = None
    array_parallelism: PositiveInt = 64
    extra: dict[str, str | int | bool] = Field(
        default_factory=dict, description="extra sbatch options"
    )

    @property
    def processes(self) -> int:
        """Processes of one task: one per SLURM task (one per GPU for distributed training)."""
        return self.nodes * self.tasks_per_node


class ResourceOverrides(_SlurmFormats):
    """Per-stage resources: any field of `default` may be overridden."""

    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    nodes: PositiveInt | None = None
    gpus_per_node: NonNegativeInt | None = None
    tasks_per_node: PositiveInt | None = None
    cpus_per_task: PositiveInt | None = None
    mem: str | None = None
    time: str | None = None
    constraint: str | None = None
    array_parallelism: PositiveInt | None = None
    extra: dict[str, str | int | bool] | None = None


# A stage's time limit when the config sets none (submitit's own default is 5 minutes, which
# kills any real task); `resources.<stage>.time` or `resources.default.time` override it.
STAGE_TIME_DEFAULTS = {
    "prepare": "04:00:00",
    "teacher": "24:00:00",
    "split": "01:00:00",
    "train": "24:00:00",
    "evaluate": "12:00:00",
    "judge": "12:00:00",
    "gather": "01:00:00",
}


class ResourcesConfig(Strict):
    default: Resources = Field(default_factory=Resources)
    prepare: ResourceOverrides = Field(default_factory=ResourceOverrides)
    teacher: ResourceOverrides = Field(default_factory=ResourceOverrides)
    split: ResourceOverrides = Field(default_factory=ResourceOverrides)
    train: ResourceOverrides = Field(default_factory=ResourceOverrides)
    evaluate: ResourceOverrides = Field(default_factory=ResourceOverrides)
    judge: ResourceOverrides = Field(default_factory=ResourceOverrides)
    gather: ResourceOverrides = Field(default_factory=ResourceOverrides)

    def for_stage(self, stage: str, method: ResourceOverrides | None = None) -> Resources:
        """The stage's resources; for a train task, with its method's overrides on top."""
        merged = self.default.model_dump() | getattr(self, stage).model_dump(exclude_none=True)
        if method is not None:
            merged |= method.model_dump(exclude_none=True)
        if merged["time"] is None:
            merged["time"] = STAGE_TIME_DEFAULTS[stage]
        return Resources.model_validate(merged)


# ---------------------------------------------------------------- data


class SyntheticSource(Strict):
    topics: PositiveInt = 160
    seed: int = 0


def _check_columns(mapping: dict[str, str]) -> dict[str, str]:
    unknown = [name for name in mapping if name not in ARTICLE_FIELDS]
    if unknown:
        raise ValueError(
            f"unknown field(s) {', '.join(unknown)}; columns maps these fields to columns: "
            f"{', '.join(ARTICLE_FIELDS)}"
        )
    return mapping


class FilesSource(Strict):
    paths: list[str] = Field(min_length=1, description="files or glob patterns")
    format: Literal["jsonl", "parquet", "csv"] | None = None  # from the file suffix if None
    columns: dict[str, str] = Field(
        default_factory=dict, description="canonical field -> column in the file"
    )
    language: Lang | None = None  # when the files hold one language and no language column

    _columns = field_validator("columns")(lambda cls, v: _check_columns(v))
    _lang = field_validator("language")(lambda cls, v: v if v is None else _check_lang(v))


class HFSource(Strict):
    name: str  # dataset id or local path
    preset: Literal["slds", "xsum", "xlsum"] | None = None  # ready column mappings
    config_name: str | None = None  # e.g. fr_de for SLDS, english for XL-Sum
    splits: list[str] = Field(default_factory=lambda: ["train"])
    columns: dict[str, str] = Field(
        default_factory=dict, description="canonical field -> column; overrides the preset"
    )
    language: Lang | None = None  # when the dataset has no language column
    summary_language: Lang | None = None  # default: the article's language
    limit: PositiveInt | None = None  # rows per split
    revision: str | None = None

    _columns = field_validator("columns")(lambda cls, v: _check_columns(v))
    _lang = field_validator("language", "summary_language")(
        lambda cls, v: v if v is None else _check_lang(v)
    )


class WikipediaSource(Strict):
    categories: dict[str, list[str]] = Field(
        default_factory=dict, description="language -> categories; defaults to good/featured"
    )
    limit_per_language: PositiveInt = 500
    recording: str | None = Field(None, description="replay API answers from this folder (offline)")
    user_agent: str = "babelsum (research; https://github.com/babelsum)"


class CleaningConfig(Strict):
    min_chars: NonNegativeInt = 200
    max_chars: PositiveInt = 200_000
    min_summary_chars: NonNegativeInt = 20
    check_language: bool = True  # quarantine texts that py3langid reads as another language
    # how sure py3langid must be that a text is in another language (0.99 under 300 chars)
    min_language_confidence: Annotated[float, Field(ge=0, le=1)] = 0.9
    dedupe: bool = True  # quarantine a repeated (article_id, language) or a repeated text


class DataConfig(Strict):
    source: Literal["synthetic", "files", "hf", "wikipedia"] = "synthetic"
    synthetic: SyntheticSource = Field(default_factory=SyntheticSource)
    files: FilesSource | None = None
    hf: HFSource | None = None
    wikipedia: WikipediaSource = Field(default_factory=WikipediaSource)
    cleaning: CleaningConfig = Field(default_factory=CleaningConfig)

    @model_validator(mode="after")
    def _source_section(self) -> DataConfig:
        if self.source in ("files", "hf") and getattr(self, self.source) is None:
            raise ValueError(
                f"source is {self.source!r} but the {self.source!r} section is missing"
            )
        return self


class SplitConfig(Strict):
    """Sizes in topics (one topic = the same article in each language)."""

    validation_topics: NonNegativeInt = 10
    test_novel_topics: PositiveInt = 20
    test_same_topic_per_language: NonNegativeInt = 20
    max_train_per_language: PositiveInt | None = None
    seed: int = 0


# ---------------------------------------------------------------- models


class ModelSpec(Strict):
    path: str = Field(description="Hugging Face id or local folder")
    family: Literal["qwen2", "phi3", "mbart", "gemma3", "phi", "mistral", "llama"] | None = None
    revision: str | None = None
    chat: bool = True  # instruct model with a chat template
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = "auto"
    attn_implementation: Literal["sdpa", "eager", "flash_attention_2"] = "sdpa"
    load_in_4bit: bool = False  # for inference (teacher, judge, evaluation of base models)
    trust_remote_code: bool = False

    @property
    def is_seq2seq(self) -> bool:
        return self.family == "mbart"


class TrainMethod(Strict):
    model: str = Field(description="a name under `models`")
    method: Literal["full", "qlora", "lora", "seq2seq"]
    name: str | None = None  # defaults to the method; distinguishes two runs of one method
    learning_rate: PositiveFloat = 2e-5
    epochs: PositiveFloat = 1.0
    max_steps: PositiveInt | None = None
    per_device_batch_size: PositiveInt = 1
    gradient_accumulation: PositiveInt = 1
    weight_decay: Annotated[float, Field(ge=0)] = 0.0
    warmup_ratio: Annotated[float, Field(ge=0, lt=1)] = 0.03
    lr_scheduler: str = "cosine"
    optimizer: str = "adamw_torch"  # a transformers `optim` name; adamw_torch runs fused on CUDA
    max_grad_norm: PositiveFloat = 1.0
    precision: Literal["auto", "bf16", "fp16", "fp32"] = "auto"
    gradient_checkpointing: bool = False
    deepspeed: str | None = Field(None, description="path to a DeepSpeed JSON (full only)")
    lora_r: PositiveInt | None = None
    lora_alpha: PositiveInt | None = None
    lora_dropout: Annotated[float, Field(ge=0, lt=1)] | None = None
    target_modules: list[str] | Literal["all-linear"] | None = None
    max_input_tokens: PositiveInt = 4096
    max_summary_tokens: PositiveInt = 256
    batching: Literal["padded", "length_grouped", "padding_free"] = "length_grouped"
    save_steps: PositiveInt = 50
    save_total_limit: PositiveInt = 2  # checkpoints kept in the work folder for resuming
    logging_steps: PositiveInt = 5
    rouge_every_steps: NonNegativeInt = 0  # 0 = off
    rouge_samples: PositiveInt = 8
    seed: int = 0
    # this method's own SLURM resources, over `resources.train` (e.g. 4 GPUs for full
    # fine-tuning under DeepSpeed, 1 for QLoRA); its tasks get an array of their own
    resources: ResourceOverrides | None = None

    @property
    def label(self) -> str:
        return self.name or self.method

    @model_validator(mode="after")
    def _method_fields(self) -> TrainMethod:
        lora = ("lora_r", "lora_alpha", "lora_dropout", "target_modules")
        if self.method in ("qlora", "lora"):
            self.lora_r = self.lora_r or 16
            self.lora_alpha = self.lora_alpha or 2 * self.lora_r
            self.lora_dropout = 0.05 if self.lora_dropout is None else self.lora_dropout
            self.target_modules = self.target_modules or "all-linear"
        else:
            given = [f for f in lora if getattr(self, f) is not None]
            if given:
                raise ValueError(
                    f"{', '.join(given)} only apply to methods qlora and lora, not {self.method!r}"
                )
        if self.deepspeed and self.method != "full":
            raise ValueError(f"deepspeed applies to method 'full' only, not {self.method!r}")
        if self.batching == "padding_free" and self.method == "seq2seq":
            raise ValueError(
                "batching padding_free needs a decoder-only model; use length_grouped for seq2seq"
            )
        return self


class TrainConfig(Strict):
    languages: list[Lang] = Field(min_length=1)
    methods: list[TrainMethod] = Field(default_factory=list)

    _lang = field_validator("languages")(lambda cls, v: [_check_lang(x) for x in v])


# ---------------------------------------------------------------- teacher, evaluation


class TeacherConfig(Strict):
    backend: Literal["lead", "hf", "vllm"] = "lead"
    model: str | None = Field(None, description="a name under `models` (hf, vllm)")
    shards: PositiveInt = 1
    batch_size: PositiveInt = 8
    max_batch_tokens: PositiveInt | None = None  # as evaluate.max_batch_tokens (hf backend)
    max_input_tokens: PositiveInt = 4096
    max_new_tokens: PositiveInt = 256
    rotate_every: PositiveInt = 1000  # switch prompt variant every N articles
    lead_sentences: PositiveInt = 3
    min_words: NonNegativeInt = 5
    max_words: PositiveInt = 400
    check_language: bool = True  # fail summaries that py3langid reads as another language
    prompt_dir: str | None = Field(
        None, description="folder of <lang>.{system,user,plain}.jinja to use instead of ours"
    )

    @model_validator(mode="after")
    def _model_needed(self) -> TeacherConfig:
        if self.backend != "lead" and not self.model:
            raise ValueError(f"backend {self.backend!r} needs `model`")
        return self


class JudgeConfig(Strict):
    model: str = Field(description="a name under `models`")
    max_input_tokens: PositiveInt = 3072  # the article is cut to fit; the summaries never are
    max_new_tokens: PositiveInt = 256  # two short rationales and two scores, as JSON
    max_articles: PositiveInt | None = None  # per evaluation cell
    retries: NonNegativeInt = 1
    batch_size: PositiveInt = 4


class EvaluateConfig(Strict):
    languages: list[Lang] | None = None  # default: the sweep's languages
    test_sets: list[Literal["novel", "same_topic"]] = Field(default_factory=lambda: list(TEST_SETS))
    base_models: bool = True
    max_input_tokens: PositiveInt = 4096
    max_new_tokens: PositiveInt = 256
    batch_size: PositiveInt = 8
    max_examples: PositiveInt | None = None
    bootstrap_samples: PositiveInt = 1000
    rouge_stemming: bool = True  # Porter for English, Snowball for other languages that have one
    relative_floor: Annotated[float, Field(ge=0)] = 0.01  # relative gain undefined below this base
    # cells (evaluation language x test set) one task runs after loading its model once;
    # None: all of the model's cells. Fewer suit a cluster with short time limits.
    cells_per_task: PositiveInt | None = None
    # fill generation batches up to this many tokens (rows x (longest prompt + max_new_tokens))
    # instead of `batch_size` rows; batch_size then only caps the rows
    max_batch_tokens: PositiveInt | None = None
    # hf: transformers' generate; vllm: vLLM's engine (GPU nodes, `pip install babelsum[vllm]`)
    backend: Literal["hf", "vllm"] = "hf"
    judge: JudgeConfig | None = None

    _lang = field_validator("languages")(
        lambda cls, v: None if v is None else [_check_lang(x) for x in v]
    )


# ---------------------------------------------------------------- infrastructure


class TrackingConfig(Strict):
    enabled: bool = True
    uri: str | None = None  # MLFLOW_TRACKING_URI wins; else sqlite in the sweep folder
    experiment: str | None = None  # default: the study name


class ContainerConfig(Strict):
    """Run every task as `apptainer exec --nv --bind ... IMAGE python` (see containers.py)."""

    image: str = Field(description="a local .sif file (or sandbox folder), e.g. babelsum.sif")
    binds: list[str] = Field(
        default_factory=list,
        description="extra `src[:dst[:opts]]` binds; the sweep folder "
        "and hf_cache are bound already",
    )
    env: dict[str, str] = Field(
        default_factory=dict, description="variables set inside (keep secrets in the environment)"
    )
    nv: bool = True  # --nv: the host's NVIDIA driver inside the container
    options: list[str] = Field(
        default_factory=list, description="more `apptainer exec` options, e.g. --writable-tmpfs"
    )
    probe: bool = True  # at submission, run the image once to check babelsum and submitit import
    apptainer: str = "apptainer"  # the executable, or its full path


class RetryConfig(Strict):
    """How `launch resubmit` raises a task's resources after it ran out of memory or time."""

    max_attempts: PositiveInt = 5  # a task that failed this often is left for a person to look at
    memory_factor: Annotated[float, Field(gt=1)] = 2.0
    time_factor: Annotated[float, Field(gt=1)] = 2.0
    max_mem: str | None = Field(None, description="never ask for more, e.g. 512G")
    max_time: str | None = Field(None, description="never ask for longer, e.g. 2-00:00:00")

    _mem = field_validator("max_mem")(lambda cls, v: _SlurmFormats._mem(v))
    _time = field_validator("max_time")(lambda cls, v: _SlurmFormats._time(v))


class EngineConfig(Strict):
    local_parallel_tasks: PositiveInt = 1
    retry: RetryConfig = Field(default_factory=RetryConfig)
    # a folder shared by sweeps: done outputs are kept there by identity and reused
    cache_dir: str | None = None
    stage_impl: dict[str, str] = Field(
        default_factory=dict, description="stage -> 'module:function' replacing the built-in stage"
    )
    max_array_size: PositiveInt | None = None  # default: read from `scontrol show config`
    max_timeouts: NonNegativeInt = 3  # requeues after a time limit before a task counts failed
    signal_delay_s: PositiveInt = (
        120  # SLURM signals this long before the limit: time to checkpoint
    )

    @field_validator("stage_impl")
    @classmethod
    def _stages(cls, v: dict[str, str]) -> dict[str, str]:
        for stage, target in v.items():
            if stage not in STAGES:
                raise ValueError(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")
            if ":" not in target:
                raise ValueError(f"{stage}: expected 'module:function', got {target!r}")
        return v


class SweepConfig(Strict):
    study: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    seed: int = 0
    languages: list[Lang] = Field(min_length=1)
    data: DataConfig = Field(default_factory=DataConfig)
    teacher: TeacherConfig | None = None  # None: the source has gold summaries
    split: SplitConfig = Field(default_factory=SplitConfig)
    models: dict[str, ModelSpec] = Field(default_factory=dict)
    train: TrainConfig
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig)
    resources: ResourcesConfig = Field(default_factory=ResourcesConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    container: ContainerConfig | None = None
    hf_cache: str | None = None  # HF_HUB_CACHE for tasks; default: inherited
    offline: bool = False  # run tasks with HF_HUB_OFFLINE=1
    engine: EngineConfig = Field(default_factory=EngineConfig)

    _lang = field_validator("languages")(lambda cls, v: [_check_lang(x) for x in v])

    @model_validator(mode="after")
    def _references(self) -> SweepConfig:
        problems = []
        names = ", ".join(sorted(self.models)) or "(none)"
        for i, m in enumerate(self.train.methods):
            if m.model not in self.models:
                problems.append(
                    f"train.methods[{i}].model: unknown model {m.model!r}; models: {names}"
                )
            elif m.method == "seq2seq" and not self.models[m.model].is_seq2seq:
                problems.append(
                    f"train.methods[{i}].method: seq2seq needs a seq2seq model (family mbart), "
                    f"{m.model!r} is causal"
                )
            elif m.method != "seq2seq" and self.models[m.model].is_seq2seq:
                problems.append(
                    f"train.methods[{i}].method: {m.model!r} is seq2seq; use method seq2seq"
                )
        labels = [(m.model, m.label) for m in self.train.methods]
        for dup in {x for x in labels if labels.count(x) > 1}:
            problems.append(f"train.methods: two entries for {dup[0]}/{dup[1]}; give one a `name`")
        for where, ref in (
            ("teacher.model", self.teacher and self.teacher.model),
            ("evaluate.judge.model", self.evaluate.judge and self.evaluate.judge.model),
        ):
            if ref and ref not in self.models:
                problems.append(f"{where}: unknown model {ref!r}; models: {names}")
        for lang in self.train.languages:
            if lang not in self.languages:
                problems.append(f"train.languages: {lang!r} is not in languages {self.languages}")
        for lang in self.evaluate.languages or []:
            if lang not in self.languages:
                problems.append(
                    f"evaluate.languages: {lang!r} is not in languages {self.languages}"
                )
        if problems:
            raise ConfigError(problems)
        return self

    @property
    def eval_languages(self) -> list[str]:
        return self.evaluate.languages or self.languages
