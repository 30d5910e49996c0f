"""`launch merge ADAPTER_DIR OUT_DIR`: fold a LoRA adapter into its base model for deployment.

The base model named in the adapter's `adapter_config.json` is loaded in its own precision
(not 4-bit, even for a QLoRA adapter: merging into quantized weights would round the adapter
away), the adapter weights are added in, and the result is saved as an ordinary model with
the adapter folder's tokenizer. It then loads and serves like any checkpoint, without PEFT.
The train stage calls it too, as its last step, with `train.merge_adapters: true`.
"""

from __future__ import annotations

from pathlib import Path

from babelsum.config import ModelSpec
from babelsum.errors import MergeError


def merge_adapter(adapter_dir: Path, out_dir: Path, base: ModelSpec | None = None) -> Path:
    """Merge the adapter in `adapter_dir` into its base model; save it in `out_dir`.

    `base`: the config's spec of the base model, whose loading settings (dtype, remote code,
    attention) then apply; its path is not used: the adapter names its base.
    """
    from babelsum.models.loading import load_model, load_tokenizer

    adapter_dir, out_dir = Path(adapter_dir), Path(out_dir)
    if not (adapter_dir / "adapter_config.json").is_file():
        raise MergeError(
            f"{adapter_dir} has no adapter_config.json: give the `model` folder of a lora or "
            "qlora training task (tasks/train/.../output/model)"
        )
    if out_dir.exists() and any(out_dir.iterdir()):
        raise MergeError(f"{out_dir} exists and is not empty; choose a new folder")
    spec = (base or ModelSpec(path=str(adapter_dir))).model_copy(
        update={"path": str(adapter_dir), "revision": None, "load_in_4bit": False}
    )
    model = load_model(spec)  # an adapter folder: base model + adapter, merged (not 4-bit)
    tokenizer = load_tokenizer(spec)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir
