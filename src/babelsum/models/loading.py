"""Load a model and its tokenizer the one way every stage does: teacher, train, evaluate, judge.

A `ModelSpec` names a Hugging Face id or a local folder (a full model, or a PEFT adapter folder
as the train stage writes it). Tiny test models load through this very code.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any

from babelsum.config import ModelSpec
from babelsum.errors import ModelLoadError
from babelsum.models.lora_targets import check_target_modules

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

__all__ = [
    "ModelLoadError",
    "check_target_modules",
    "detect_family",
    "is_seq2seq",
    "load_model",
    "load_tokenizer",
    "resolve_model_path",
]

log = logging.getLogger(__name__)

# config.json `model_type` -> the family names a config uses
FAMILY_OF_MODEL_TYPE = {
    "qwen2": "qwen2",
    "phi3": "phi3",
    "mbart": "mbart",
    "gemma3": "gemma3",
    "gemma3_text": "gemma3",
    "phi": "phi",
    "mistral": "mistral",
    "mistral3": "mistral",
    "llama": "llama",
}
SEQ2SEQ_FAMILIES = {"mbart"}


# ---------------------------------------------------------------- where the model is


def _looks_like_path(name: str) -> bool:
    return name.startswith(("/", ".", "~")) or name.count("/") > 1


def resolve_model_path(spec: ModelSpec) -> str:
    """The local folder or hub id to load; fail early, in one line, when it cannot be found.

    With `HF_HUB_OFFLINE=1` a hub id must already be in the cache (`launch prefetch`);
    online, its config is fetched once, so a wrong id fails here and not deep in transformers.
    """
    return _resolve(spec.path, spec.revision, os.environ.get("HF_HUB_OFFLINE") == "1")


@functools.cache
def _resolve(name: str, revision: str | None, offline: bool) -> str:
    if name.startswith("tiny:"):
        return str(tiny_model_folder(name.removeprefix("tiny:")))
    local = Path(name).expanduser()
    if local.is_dir():
        if not (local / "config.json").is_file() and not (local / "adapter_config.json").is_file():
            raise ModelLoadError(
                f"model folder {local} has no config.json or adapter_config.json; "
                "is it a saved model?"
            )
        return str(local)
    if _looks_like_path(name) or local.exists():
        raise ModelLoadError(f"no model folder at {name}; check `models.*.path` in the config")
    if offline:
        from huggingface_hub import constants, try_to_load_from_cache

        cached = try_to_load_from_cache(name, "config.json", revision=revision)
        if not isinstance(cached, str):
            raise ModelLoadError(
                f"model {name} is not in the cache at {constants.HF_HUB_CACHE} "
                "(HF_HUB_OFFLINE=1); run `launch prefetch CONFIG` on a login node"
            )
    elif _read_json(name, "config.json", revision) is None:
        if _read_json(name, "adapter_config.json", revision) is None:
            raise ModelLoadError(f"model {name} on the Hugging Face Hub has no config.json")
    return name


def tiny_model_folder(family: str) -> Path:
    """`path: tiny:qwen2` in a config: a tiny random model of that architecture, built once.

    Built under $BABELSUM_CACHE (default ~/.cache/babelsum) and then loaded through the very
    same from_pretrained path as a downloaded checkpoint. A file lock keeps parallel tasks
    from building it twice.
    """
    from babelsum.files import file_lock
    from babelsum.models.tiny import FAMILIES, TINY_VERSION, build_tiny_model, tokenizer_corpus

    if family not in FAMILIES:
        raise ModelLoadError(f"no tiny model {family!r}; tiny models: {', '.join(FAMILIES)}")
    root = Path(os.environ.get("BABELSUM_CACHE", Path.home() / ".cache" / "babelsum"))
    out = root / f"tiny-models-v{TINY_VERSION}"
    out.mkdir(parents=True, exist_ok=True)
    with file_lock(out / f".{family}.lock"):
        if not (out / family / "config.json").is_file():
            build_tiny_model(family, out, tokenizer_corpus())
    return out / family


def _read_json(path: str, filename: str, revision: str | None) -> dict[str, Any] | None:
    """A JSON file of a local folder or a hub repo, or None when the model has no such file."""
    if Path(path).is_dir():
        file = Path(path) / filename
        return json.loads(file.read_text(encoding="utf-8")) if file.is_file() else None
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        return json.loads(Path(hf_hub_download(path, filename, revision=revision)).read_text())
    except EntryNotFoundError:
        return None
    except RepositoryNotFoundError:
        raise ModelLoadError(
            f"model {path} does not exist on the Hugging Face Hub (or is gated: log in with "
            "`hf auth login`); check `models.*.path`"
        ) from None
    except RevisionNotFoundError:
        raise ModelLoadError(f"model {path} has no revision {revision!r}") from None


def adapter_base(path: str, revision: str | None) -> str | None:
    """The base model of a PEFT adapter folder, or None when `path` is a full model."""
    adapter = _read_json(path, "adapter_config.json", revision)
    return adapter["base_model_name_or_path"] if adapter else None


def detect_family(spec: ModelSpec) -> str:
    """The spec's family, or the one its config.json `model_type` names."""
    if spec.family:
        return spec.family
    path = resolve_model_path(spec)
    base = adapter_base(path, spec.revision)
    config = _read_json(base or path, "config.json", None if base else spec.revision) or {}
    model_type = config.get("model_type")
    if model_type not in FAMILY_OF_MODEL_TYPE:
        known = ", ".join(sorted(set(FAMILY_OF_MODEL_TYPE.values())))
        raise ModelLoadError(
            f"model {spec.path}: cannot tell its family from model_type {model_type!r}; "
            f"set `family` to one of: {known}"
        )
    return FAMILY_OF_MODEL_TYPE[model_type]


def checkpoint_dtype(spec: ModelSpec) -> str | None:
    """The dtype `spec` loads in: its own `dtype`, else the one its checkpoint (or an adapter's
    base) was saved in (config.json), e.g. "bfloat16"; None when the checkpoint does not say."""
    if spec.dtype != "auto":
        return spec.dtype
    path = resolve_model_path(spec)
    base = adapter_base(path, spec.revision)
    config = _read_json(base or path, "config.json", None if base else spec.revision) or {}
    dtype = config.get("dtype") or config.get("torch_dtype")
    if dtype is None and isinstance(config.get("text_config"), dict):  # Gemma 3 multimodal
        dtype = config["text_config"].get("dtype") or config["text_config"].get("torch_dtype")
    return dtype if dtype in ("bfloat16", "float16", "float32") else None


def is_seq2seq(spec: ModelSpec) -> bool:
    """Whether `spec` is an encoder-decoder model (its family, or the one detected)."""
    return _family_of(spec.path, spec.revision, spec.family) in SEQ2SEQ_FAMILIES


@functools.cache
def _family_of(path: str, revision: str | None, family: str | None) -> str:
    return detect_family(ModelSpec(path=path, revision=revision, family=family))


# ---------------------------------------------------------------- tokenizer


def load_tokenizer(spec: ModelSpec, *, padding_side: str = "left") -> PreTrainedTokenizerBase:
    """The tokenizer of `spec`, with a pad token, padded on `padding_side`.

    Decoder-only models generate from left-padded batches (the default); training collators
    may ask for "right". Seq2seq encoders always pad on the right: their learned positions are
    absolute, so left padding would shift every token.
    """
    from transformers import AutoTokenizer

    path = resolve_model_path(spec)
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            path, revision=spec.revision, trust_remote_code=spec.trust_remote_code
        )
    except (OSError, ValueError) as err:
        raise ModelLoadError(
            f"cannot load the tokenizer of {spec.path}: {_first_line(err)}"
        ) from None
    if tokenizer.pad_token is None:
        # Prefer a token that never ends a text, so collators that mask padding out of the
        # labels cannot mask the end of the summary; fall back on the end token.
        fallback = (
            tokenizer.unk_token
            if tokenizer.unk_token not in (None, tokenizer.eos_token)
            else tokenizer.eos_token
        )
        if fallback is None:
            raise ModelLoadError(f"tokenizer of {spec.path} has neither a pad, unk nor eos token")
        log.warning("%s has no pad token; padding with %s", spec.path, fallback)
        tokenizer.pad_token = fallback
    tokenizer.padding_side = "right" if is_seq2seq(spec) else padding_side
    return tokenizer


# ---------------------------------------------------------------- model


def load_model(
    spec: ModelSpec,
    *,
    quantize_4bit: bool = False,
    compute_dtype: torch.dtype | None = None,
    for_training: bool = False,
    device_map: str | dict | None = None,
) -> PreTrainedModel:
    """Load `spec` for generation (eval mode) or for training.

    4-bit NF4 with double quantization is used when `quantize_4bit` is set (QLoRA), or for
    inference when the spec says `load_in_4bit`. A PEFT adapter folder loads its base model
    with the same settings, then the adapter (merged into the weights unless quantized).
    On a GPU the model is placed on the current device unless training without quantization
    (DeepSpeed and the Trainer place those).
    """
    import torch

    family = detect_family(spec)
    path = resolve_model_path(spec)
    base = adapter_base(path, spec.revision)
    quantize = quantize_4bit or (spec.load_in_4bit and not for_training)
    kwargs: dict[str, Any] = {
        "dtype": _dtype(spec.dtype),
        "attn_implementation": _attention(spec.attn_implementation),
        "trust_remote_code": spec.trust_remote_code,
    }
    if quantize:
        kwargs["quantization_config"] = _nf4_config(compute_dtype or _default_compute_dtype())
    if device_map is None and torch.cuda.is_available() and (quantize or not for_training):
        # A distributed training process owns the GPU of its local rank.
        rank = int(os.environ.get("LOCAL_RANK", torch.cuda.current_device()))
        device_map = {"": rank}
    if device_map is not None:
        kwargs["device_map"] = device_map

    model_class = _model_class(family)
    where = base or path
    try:
        model = model_class.from_pretrained(
            where, revision=None if base else spec.revision, **kwargs
        )
    except OSError as err:
        raise ModelLoadError(f"cannot load model {where}: {_first_line(err)}") from None
    except (ImportError, RuntimeError) as err:
        if not quantize:
            raise
        raise ModelLoadError(
            f"4-bit NF4 loading of {where} failed on this machine ({_first_line(err)}); "
            "set load_in_4bit: false, or run on a node bitsandbytes supports"
        ) from None
    if base:
        model = _attach_adapter(model, path, merge=not quantize and not for_training)
    if for_training:
        model.config.use_cache = False  # the KV cache is useless and conflicts with checkpointing
        model.train()
    else:
        model.eval()
    return model


def model_skeleton(spec: ModelSpec):
    """The model's architecture on the meta device: its modules, no weights (no memory, no
    download beyond config.json) — enough to check module names before anything is queued."""
    import torch
    from transformers import AutoConfig

    path = resolve_model_path(spec)
    config = AutoConfig.from_pretrained(
        path, revision=spec.revision, trust_remote_code=spec.trust_remote_code
    )
    with torch.device("meta"):
        return _model_class(detect_family(spec)).from_config(
            config, trust_remote_code=spec.trust_remote_code
        )


def _model_class(family: str):
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

    return AutoModelForSeq2SeqLM if family in SEQ2SEQ_FAMILIES else AutoModelForCausalLM


def _dtype(name: str):
    import torch

    return "auto" if name == "auto" else getattr(torch, name)


def _attention(requested: str) -> str:
    if requested != "flash_attention_2":
        return requested
    import torch

    if find_spec("flash_attn") is None or not torch.cuda.is_available():
        missing = "the flash_attn package" if find_spec("flash_attn") is None else "a GPU"
        log.warning("flash_attention_2 needs %s; using sdpa attention instead", missing)
        return "sdpa"
    return requested


def _default_compute_dtype():
    import torch

    if torch.cuda.is_available():
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def _nf4_config(compute_dtype):
    if find_spec("bitsandbytes") is None:
        raise ModelLoadError(
            "4-bit loading needs bitsandbytes: `pip install bitsandbytes`, or set load_in_4bit: false"
        )
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=compute_dtype,
    )


def _attach_adapter(model, adapter_dir: str, *, merge: bool):
    from peft import PeftModel

    model = PeftModel.from_pretrained(model, adapter_dir)
    # Merged weights generate faster; a 4-bit base keeps the adapter separate (merging would
    # round the adapter into the quantized weights).
    return model.merge_and_unload() if merge else model


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
