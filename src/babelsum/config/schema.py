"""What a sweep config may hold: the pydantic models, their limits and cross-checks.

Unknown keys are errors (`extra="forbid"`), so a typo never passes silently. Reading YAML,
overrides and turning validation errors into lines live in load.py. No ML library here.
"""

from __future__ import annotations

import difflib
import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    field_validator,
    model_validator,
)

from babelsum.config.units import slurm_mem, slurm_time
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
    "source_split",  # the source's own split (train, validation, test), for split.use_official
)
STAGES = ("prepare", "teacher", "split", "train", "evaluate", "judge", "gather")
TEST_SETS = ("novel", "same_topic")
METHODS = ("full", "qlora", "lora", "seq2seq")


class Strict(BaseModel):
    # nan and inf pass `gt=0` checks (inf > 0) and only fail deep inside a task
    model_config = ConfigDict(extra="forbid", protected_namespaces=(), allow_inf_nan=False)


def _check_lang(code: str) -> str:
    if code not in LANGUAGES:
        raise ValueError(f"unknown language {code!r}; known: {', '.join(sorted(LANGUAGES))}")
    return code


def _unique(values: list, what: str) -> list:
    """Each entry once: a repeated language or test set would give two tasks one key."""
    repeated = sorted({str(v) for v in values if values.count(v) > 1})
    if repeated:
        raise ValueError(f"{', '.join(map(repr, repeated))} listed twice; list each {what} once")
    return values


def _check_langs(codes: list[str] | None) -> list[str] | None:
    return None if codes is None else _unique([_check_lang(c) for c in codes], "language")


_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def safe_name(name: str) -> str:
    """A name that becomes a folder of the sweep (task keys, output paths): one safe segment."""
    if not _SAFE_NAME.fullmatch(name) or ".." in name:
        raise ValueError(
            f"{name!r} is not a safe name: use 1 to 100 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit, without '..'"
        )
    return name


def did_you_mean(word: str, options: list[str]) -> str:
    """ " (did you mean 'train'?)" for a near miss, else ""."""
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


Lang = Annotated[str, Field(min_length=2, max_length=3)]

# Ceilings on sizes that can only be mistakes (a typo's extra zeros): such a value would run
# for weeks or exhaust memory before anything said so. The error names the ceiling.
Seed = Annotated[int, Field(ge=0, le=2**32 - 1)]  # numpy's seed range
Topics = Annotated[int, Field(gt=0, le=10_000_000)]
Steps = Annotated[int, Field(gt=0, le=100_000_000)]
Epochs = Annotated[float, Field(gt=0, le=10_000)]
BatchSize = Annotated[int, Field(gt=0, le=65_536)]
Tokens = Annotated[int, Field(gt=0, le=1_048_576)]  # per sequence
BatchTokens = Annotated[int, Field(gt=0, le=100_000_000)]
Shards = Annotated[int, Field(gt=0, le=100_000)]

# Values that go on an `#SBATCH` line: a newline would end the line and inject shell lines
# into the batch script (and turn off every `#SBATCH` line after it).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SBATCH_OPTION = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


_CONTROL_TEXT = "control characters (newline, tab, ...) are not allowed on an #SBATCH line"


def _one_line(value: str | None) -> str | None:
    if value is not None and _CONTROL.search(value):
        raise ValueError(_CONTROL_TEXT)
    return value


def _one_name(value: str | None) -> str | None:
    """A partition, account or qos: sbatch would split a name at a space."""
    if _one_line(value) is not None and re.search(r"\s", value):
        raise ValueError("spaces are not allowed in a SLURM name (several partitions: gpu,a100)")
    return value


class _SlurmFormats(Strict):
    """Checks shared by stage resources and their overrides (formats: config/units.py)."""

    @field_validator("mem", mode="before", check_fields=False)
    @classmethod
    def _mem(cls, v: object) -> str | None:
        return None if v is None else slurm_mem(v)

    @field_validator("time", mode="before", check_fields=False)
    @classmethod
    def _time(cls, v: object) -> str | None:
        return None if v is None else slurm_time(v)

    _text = field_validator("constraint", check_fields=False)(lambda cls, v: _one_line(v))
    _names = field_validator("partition", "account", "qos", check_fields=False)(
        lambda cls, v: _one_name(v)
    )

    @field_validator("extra", check_fields=False)
    @classmethod
    def _extra(cls, v: dict | None) -> dict | None:
        for option, value in (v or {}).items():
            if not _SBATCH_OPTION.fullmatch(option):
                raise ValueError(
                    f"{option!r} is not an sbatch option name (letters, digits, '-', '_')"
                )
            if isinstance(value, str) and _CONTROL.search(value):
                raise ValueError(f"{option}: {_CONTROL_TEXT}")
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
    topics: Topics = 160
    seed: Seed = 0


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
    # also fetch the other study languages' versions of each topic (through the language
    # links), good/featured or not, so that the same topics exist in several languages
    follow_langlinks: bool = True
    linked_limit_per_language: PositiveInt | None = Field(
        None, description="articles per language reached through language links; "
        "default: limit_per_language"
    )  # fmt: skip
    snapshot: str | None = Field(
        None, description="folder `launch prefetch` writes and offline prepare reads (relative "
        "to the config file); default: <hf_cache>/babelsum-wikipedia/<languages>-<settings hash>"
    )  # fmt: skip
    recording: str | None = Field(None, description="replay API answers from this folder (offline)")
    user_agent: str = "babelsum (research; https://github.com/babelsum)"
    # the page's wikitext as the article text, markup and all, as the original study fed its
    # models (paper-as-run); the cleaner still strips markup unless data.cleaning.strip_markup
    # is false
    raw_wikitext: bool = False


class CleaningConfig(Strict):
    min_chars: NonNegativeInt = 200
    max_chars: PositiveInt = 200_000
    min_summary_chars: NonNegativeInt = 20
    check_language: bool = True  # quarantine texts that py3langid reads as another language
    # how sure py3langid must be that a text is in another language (0.99 under 300 chars)
    min_language_confidence: Annotated[float, Field(ge=0, le=1)] = 0.9
    dedupe: bool = True  # quarantine a repeated (article_id, language) or a repeated text
    # remove markup left over from HTML or wikitext; false keeps it (raw wikitext, as run)
    strip_markup: bool = True


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


_SHARE = re.compile(r"^(\d+(?:\.\d+)?)\s*%$")
_PAIR = re.compile(r"^([a-z]{2,3})>([a-z]{2,3})$")


def _topic_count(v: int | str) -> int | str:
    """A count of topics (10) or a share of all topics ("10%")."""
    if isinstance(v, bool):
        raise ValueError(f"expected a number of topics or a share like '10%', got {v!r}")
    if isinstance(v, int):
        if v < 0:
            raise ValueError(f"a number of topics must be 0 or more, got {v}")
        return v
    m = _SHARE.match(str(v).strip())
    if not m or not 0 <= float(m.group(1)) < 100:
        raise ValueError(f"expected a number of topics or a share like '10%', got {v!r}")
    return str(v).strip()


TopicCount = Annotated[int | str, AfterValidator(_topic_count)]


class SplitConfig(Strict):
    """How the data is split, by topic (one topic = the same article in each language).

    validation and test_novel take whole topics: a count, or a share of all topics ("10%":
    80/10/10 is `validation_topics: 10%, test_novel_topics: 10%`). The same-topic test sets
    are per (training language X, evaluation language Y) pair, X != Y: Y-language articles
    whose topic is in X's training data and which are themselves in no training data.
    """

    validation_topics: TopicCount = 10
    test_novel_topics: TopicCount = 20
    # articles of each same-topic cell (X>Y); `test_same_topic_sizes` sets single pairs
    test_same_topic_per_pair: NonNegativeInt = 20
    test_same_topic_sizes: dict[str, NonNegativeInt] = Field(
        default_factory=dict, description="'X>Y' -> articles, e.g. {'fr>de': 50}"
    )
    max_train_per_language: PositiveInt | None = None
    # keep the source's own train/validation/test splits (SLDS, XSum: numbers compare with
    # published ones); the leak guard still runs
    use_official: bool = False
    seed: Seed = 0

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data):
        if isinstance(data, dict) and "test_same_topic_per_language" in data:
            raise ValueError(
                "test_same_topic_per_language is now test_same_topic_per_pair: same-topic "
                "articles per (training language, evaluation language) pair"
            )
        return data

    @field_validator("test_same_topic_sizes")
    @classmethod
    def _pairs(cls, v: dict[str, int]) -> dict[str, int]:
        for pair in v:
            m = _PAIR.match(pair)
            if not m or m.group(1) == m.group(2):
                raise ValueError(
                    f"{pair!r}: expected 'X>Y' with two different language codes, e.g. 'fr>de'"
                )
        return v

    def topics(self, field: str, total: int) -> int:
        """`validation_topics` or `test_novel_topics` as a number of topics out of `total`."""
        value = getattr(self, field)
        if isinstance(value, int):
            return value
        return round(total * float(_SHARE.match(value).group(1)) / 100)

    def same_topic_size(self, train_lang: str, eval_lang: str) -> int:
        return self.test_same_topic_sizes.get(
            f"{train_lang}>{eval_lang}", self.test_same_topic_per_pair
        )


# ---------------------------------------------------------------- models


class Decoding(Strict):
    """How a model writes its summaries (teacher, evaluation, judge, the ROUGE check): greedy
    unless set. Stated value by value at generation: the checkpoint's own generation config
    (mBART-50 ships 5 beams, Qwen2.5-Instruct samples) is never used."""

    num_beams: Annotated[int, Field(ge=1, le=64)] = 1  # 1: greedy
    length_penalty: float = 1.0  # beam search only: above 1 favours longer summaries
    no_repeat_ngram_size: Annotated[int, Field(ge=0, le=100)] = 0  # 0: off

    @model_validator(mode="after")
    def _beam_settings(self) -> Decoding:
        if self.length_penalty != 1.0 and self.num_beams == 1:
            raise ValueError("length_penalty applies to beam search only; set num_beams > 1")
        return self


class ModelSpec(Strict):
    path: str = Field(description="Hugging Face id or local folder")
    family: Literal["qwen2", "phi3", "mbart", "gemma3", "phi", "mistral", "llama"] | None = None
    revision: str | None = None
    chat: bool = True  # instruct model with a chat template
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = "auto"
    attn_implementation: Literal["sdpa", "eager", "flash_attention_2"] = "sdpa"
    load_in_4bit: bool = False  # for inference (teacher, judge, evaluation of base models)
    trust_remote_code: bool = False
    # this model's prompt set, over `prompts.student` (and `prompts.teacher` for the teacher)
    prompts: str | None = Field(None, description="a shipped prompt set's name or a folder")
    decoding: Decoding | None = None  # None: greedy (num_beams 1)

    @property
    def is_seq2seq(self) -> bool:
        return self.family == "mbart"


class TrainMethod(Strict):
    model: str = Field(description="a name under `models`")
    method: Literal["full", "qlora", "lora", "seq2seq"]
    # defaults to the method; distinguishes two runs of one method; a safe name (safe_name)
    name: str | None = None
    learning_rate: PositiveFloat = 2e-5
    epochs: Epochs = 1.0
    max_steps: Steps | None = None
    per_device_batch_size: BatchSize = 1
    gradient_accumulation: BatchSize = 1
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
    # strict: a target that matches no linear layer is an error. suffix: as PEFT matches, the
    # names that match nothing are skipped with a warning (the original study's Wqkv/out_proj
    # on Phi-4-mini: only down_proj matched); no match at all is still an error
    target_modules_match: Literal["strict", "suffix"] | None = None
    max_input_tokens: Tokens = 4096
    max_summary_tokens: Tokens = 256
    batching: Literal["padded", "length_grouped", "padding_free"] = "length_grouped"
    save_steps: Steps = 50
    save_total_limit: PositiveInt = 2  # checkpoints kept in the work folder for resuming
    logging_steps: Steps = 5
    rouge_every_steps: Annotated[int, Field(ge=0, le=100_000_000)] = 0  # 0 = off
    rouge_samples: PositiveInt = 8
    # validation during training, on the validation articles in the training language: loss
    # and perplexity every `eval_steps` (None: off), on the first `eval_samples` (None: all)
    eval_steps: Steps | None = None
    eval_samples: PositiveInt | None = None
    # the task's model is the checkpoint with the best validation rougeL (of the ROUGE checks)
    # or loss (of the eval_steps checks), not the last one; train_summary.json names its step
    select_best: Literal["rougeL", "loss"] | None = None
    # stop after this many checks of select_best's metric without improvement; None: never
    early_stopping_patience: PositiveInt | None = None
    # Liger's fused Triton kernels (less memory, CUDA only); without the liger-kernel package
    # or a GPU the task trains without them and says so
    use_liger_kernel: bool = False
    seed: Seed = 0
    # this method's own SLURM resources, over `resources.train` (e.g. 4 GPUs for full
    # fine-tuning under DeepSpeed, 1 for QLoRA); its tasks get an array of their own
    resources: ResourceOverrides | None = None

    @property
    def label(self) -> str:
        return self.name or self.method

    @field_validator("name")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        if v == "base":  # evaluation keys call the untrained model's predictions `base`
            raise ValueError("'base' names the untrained model in evaluation keys; choose another")
        return v if v is None else safe_name(v)

    @model_validator(mode="after")
    def _method_fields(self) -> TrainMethod:
        lora = ("lora_r", "lora_alpha", "lora_dropout", "target_modules", "target_modules_match")
        if self.method in ("qlora", "lora"):
            self.lora_r = self.lora_r or 16
            self.lora_alpha = self.lora_alpha or 2 * self.lora_r
            self.lora_dropout = 0.05 if self.lora_dropout is None else self.lora_dropout
            self.target_modules = self.target_modules or "all-linear"
            self.target_modules_match = self.target_modules_match or "strict"
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

    @model_validator(mode="after")
    def _validation_fields(self) -> TrainMethod:
        if self.select_best == "loss" and not self.eval_steps:
            raise ValueError("select_best 'loss' needs eval_steps (validation loss every N steps)")
        if self.select_best == "rougeL" and not self.rouge_every_steps:
            raise ValueError("select_best 'rougeL' needs rouge_every_steps (the ROUGE checks)")
        if self.early_stopping_patience and not self.select_best:
            raise ValueError("early_stopping_patience needs select_best: the metric it watches")
        if self.eval_samples and not self.eval_steps:
            raise ValueError("eval_samples applies to the validation loss: set eval_steps")
        return self


class TrainConfig(Strict):
    languages: list[Lang] = Field(min_length=1)
    methods: list[TrainMethod] = Field(default_factory=list)
    # one training run per seed (and per model, method and language), each evaluated; gather
    # reports the mean over seeds and the between-seed spread. None: each method's `seed`
    seeds: list[Seed] | None = Field(None, min_length=1)
    # merge each lora/qlora adapter into its base model (in the base's own precision) at the
    # end of its train task, into `merged/` beside the adapter's `model/` (`launch merge`)
    merge_adapters: bool = False

    _lang = field_validator("languages")(lambda cls, v: _check_langs(v))
    _seeds = field_validator("seeds")(lambda cls, v: v if v is None else _unique(v, "seed"))

    @model_validator(mode="after")
    def _something_to_merge(self) -> TrainConfig:
        if self.merge_adapters and not any(m.method in ("lora", "qlora") for m in self.methods):
            raise ValueError("merge_adapters: no lora or qlora method has an adapter to merge")
        return self


# ---------------------------------------------------------------- teacher, evaluation


class TeacherConfig(Strict):
    backend: Literal["lead", "hf", "vllm"] = "lead"
    model: str | None = Field(None, description="a name under `models` (hf, vllm)")
    shards: Shards = 1
    batch_size: BatchSize = 8
    max_batch_tokens: BatchTokens | None = None  # as evaluate.max_batch_tokens (hf backend)
    max_input_tokens: Tokens = 4096
    max_new_tokens: Tokens = 256
    rotate_every: PositiveInt = 1000  # switch prompt variant every N articles
    lead_sentences: PositiveInt = 3
    min_words: NonNegativeInt = 5
    max_words: PositiveInt = 400
    check_language: bool = True  # fail summaries that py3langid reads as another language
    prompt_dir: str | None = Field(
        None, description="the older name of `prompts.teacher`: a prompt set's name or folder"
    )

    @model_validator(mode="after")
    def _model_needed(self) -> TeacherConfig:
        if self.backend != "lead" and not self.model:
            raise ValueError(f"backend {self.backend!r} needs `model`")
        return self


class JudgeConfig(Strict):
    model: str = Field(description="a name under `models`")
    # the article is cut to fit (the summaries never are); default: evaluate.max_input_tokens,
    # so the judge reads what the summarizer read
    max_input_tokens: Tokens | None = None
    max_new_tokens: Tokens = 256  # two short rationales and two scores, as JSON
    max_articles: PositiveInt | None = None  # per evaluation cell
    retries: NonNegativeInt = 1
    batch_size: BatchSize = 4


class EvaluateConfig(Strict):
    languages: list[Lang] | None = None  # default: the sweep's languages
    test_sets: list[Literal["novel", "same_topic"]] = Field(default_factory=lambda: list(TEST_SETS))
    base_models: bool = True
    max_input_tokens: Tokens = 4096
    max_new_tokens: Tokens = 256
    batch_size: BatchSize = 8
    max_examples: PositiveInt | None = None
    bootstrap_samples: Annotated[int, Field(gt=0, le=1_000_000)] = 1000
    rouge_stemming: bool = True  # Porter for English, Snowball for other languages that have one
    # relative change is undefined where the base scores below this (a base that is noise)
    relative_floor: Annotated[float, Field(ge=0)] = 0.05
    # multiple comparisons: stars and "significant" use p-values adjusted within each matrix
    # (holm: Holm-Bonferroni, family-wise; bh: Benjamini-Hochberg, false discovery rate)
    p_adjust: Literal["holm", "bh"] = "holm"
    # the report flags a cell whose empty or max_new_tokens-truncated share is above this
    health_flag_share: Annotated[float, Field(ge=0, le=1)] = 0.2
    # cells (evaluation language x test set) one task runs after loading its model once;
    # None: all of the model's cells. Fewer suit a cluster with short time limits.
    cells_per_task: PositiveInt | None = None
    # fill generation batches up to this many tokens (rows x (longest prompt + max_new_tokens))
    # instead of `batch_size` rows (batch_size is then not used): long prompts go in small batches,
    # short ones in large batches
    max_batch_tokens: BatchTokens | None = None
    # hf: transformers' generate; vllm: vLLM's engine (GPU nodes, `pip install babelsum[vllm]`)
    backend: Literal["hf", "vllm"] = "hf"
    # a qlora model is evaluated as trained, NF4 base + adapter; true: the adapter merged into
    # the base loaded in the training precision (bf16 on GPUs). scores.json `weights` says which
    merge_adapters: bool = False
    judge: JudgeConfig | None = None

    _lang = field_validator("languages")(lambda cls, v: _check_langs(v))
    _test_sets = field_validator("test_sets")(lambda cls, v: _unique(v, "test set"))

    @model_validator(mode="after")
    def _judge_reads_the_summarizer_budget(self) -> EvaluateConfig:
        if self.judge is not None and self.judge.max_input_tokens is None:
            self.judge.max_input_tokens = self.max_input_tokens
        return self


# ---------------------------------------------------------------- infrastructure


class TrackingConfig(Strict):
    enabled: bool = True
    uri: str | None = None  # MLFLOW_TRACKING_URI wins; else sqlite in the sweep folder
    experiment: str | None = None  # default: the study name
    # an evaluate run's predictions table (predictions.json) holds at most this many rows
    max_table_rows: PositiveInt = 1000
    # gather registers each finished trained model in the MLflow model registry
    register_models: bool = False


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

    _mem = field_validator("max_mem", mode="before")(lambda cls, v: _SlurmFormats._mem(v))
    _time = field_validator("max_time", mode="before")(lambda cls, v: _SlurmFormats._time(v))


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


class PromptsConfig(Strict):
    """The prompt sets of the teacher and of the models trained and evaluated (the students):
    a shipped set's name (default, paper, slds, xsum-phi2) or a folder of Jinja templates,
    relative to the config file's folder (models/prompts/sets/README.md). `models.X.prompts`
    overrides both for model X."""

    teacher: str | None = None  # default: the `default` set
    student: str | None = None


class SweepConfig(Strict):
    study: str  # a safe name (safe_name): it names the sweep folder and jobs
    seed: Seed = 0
    languages: list[Lang] = Field(min_length=1)
    data: DataConfig = Field(default_factory=DataConfig)
    teacher: TeacherConfig | None = None  # None: the source has gold summaries
    split: SplitConfig = Field(default_factory=SplitConfig)
    models: dict[str, ModelSpec] = Field(default_factory=dict)
    prompts: PromptsConfig = Field(default_factory=PromptsConfig)
    train: TrainConfig
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig)
    resources: ResourcesConfig = Field(default_factory=ResourcesConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    container: ContainerConfig | None = None
    hf_cache: str | None = None  # HF_HUB_CACHE for tasks; default: inherited
    offline: bool = False  # run tasks with HF_HUB_OFFLINE=1
    engine: EngineConfig = Field(default_factory=EngineConfig)

    _lang = field_validator("languages")(lambda cls, v: _check_langs(v))
    _study = field_validator("study")(lambda cls, v: safe_name(v))

    @field_validator("models")
    @classmethod
    def _model_names(cls, v: dict[str, ModelSpec]) -> dict[str, ModelSpec]:
        for name in v:
            safe_name(name)
        return v

    @model_validator(mode="after")
    def _references(self) -> SweepConfig:
        problems = []
        names = ", ".join(sorted(self.models)) or "(none)"
        for i, m in enumerate(self.train.methods):
            if m.model not in self.models:
                problems.append(
                    f"train.methods[{i}].model: unknown model {m.model!r}"
                    f"{did_you_mean(m.model, list(self.models))}; models: {names}"
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
                problems.append(
                    f"{where}: unknown model {ref!r}{did_you_mean(ref, list(self.models))}; "
                    f"models: {names}"
                )
        if self.teacher and self.teacher.prompt_dir and self.prompts.teacher:
            problems.append(
                "teacher.prompt_dir: the older name of prompts.teacher, and both are set; "
                "keep only prompts.teacher"
            )
        for lang in self.train.languages:
            if lang not in self.languages:
                problems.append(f"train.languages: {lang!r} is not in languages {self.languages}")
        for lang in self.evaluate.languages or []:
            if lang not in self.languages:
                problems.append(
                    f"evaluate.languages: {lang!r} is not in languages {self.languages}"
                )
        if "same_topic" in self.evaluate.test_sets:
            problems += self._same_topic_problems()
        if problems:
            raise ConfigError(problems)
        return self

    def _same_topic_problems(self) -> list[str]:
        pairs = self.same_topic_pairs
        if not pairs:
            return [
                "evaluate.test_sets: same_topic needs an evaluation language other than the "
                "training language (a same-topic article in the training language would be "
                "the training article itself); add one to evaluate.languages or drop same_topic"
            ]
        if self.split.use_official:
            return [
                "evaluate.test_sets: same_topic cannot be built from official splits "
                "(split.use_official); drop same_topic"
            ]
        if all(self.split.same_topic_size(x, y) == 0 for x, y in pairs):
            return [
                "split.test_same_topic_per_pair: 0 leaves every same-topic cell empty, but "
                "evaluate.test_sets has same_topic; set a size or drop same_topic"
            ]
        wanted = {f"{x}>{y}" for x, y in pairs}
        return [
            f"split.test_same_topic_sizes: {pair!r} is not a cell of this sweep; cells: "
            f"{', '.join(sorted(wanted))}"
            for pair in self.split.test_same_topic_sizes
            if pair not in wanted
        ]

    @property
    def eval_languages(self) -> list[str]:
        return self.evaluate.languages or self.languages

    def prompt_choice(
        self, role: Literal["teacher", "student"], model: str | None
    ) -> tuple[str | None, str]:
        """The prompt set `model` uses as teacher or student, as the config names it (None:
        the default set), and the field that names it: the model's own `models.X.prompts`,
        else `prompts.<role>` (for the teacher, else its older name `teacher.prompt_dir`)."""
        if model in self.models and self.models[model].prompts:
            return self.models[model].prompts, f"models.{model}.prompts"
        if role == "teacher" and self.teacher and self.teacher.prompt_dir:
            return self.teacher.prompt_dir, "teacher.prompt_dir"
        return getattr(self.prompts, role), f"prompts.{role}"

    @property
    def same_topic_pairs(self) -> list[tuple[str, str]]:
        """The same-topic cells (training language, evaluation language), off the diagonal;
        empty when the sweep does not evaluate on same-topic sets."""
        if "same_topic" not in self.evaluate.test_sets:
            return []
        return [(x, y) for x in self.train.languages for y in self.eval_languages if x != y]
