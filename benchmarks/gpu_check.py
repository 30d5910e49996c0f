"""The GPU path at the study's real model sizes, through babelsum's own train and evaluate code.

Four sections, each in a process of its own, as the backends run tasks:

- full: Qwen2.5-0.5B fully fine-tuned, bf16, gradient checkpointing, DeepSpeed ZeRO-2 on one
  GPU, 4,096-token examples, 20 steps: the train task of a one-method sweep, run by
  `runner.run_task` as a job runs it. Tokens/s, model FLOPs utilization (6 x parameters x
  tokens/s over the GPU's bf16 dense peak), peak GPU memory.
- qlora: Phi-4-mini (3.8B), LoRA r 32 on qkv_proj, o_proj, gate_up_proj and down_proj over
  NF4 weights (double quantization, bf16 compute), 4,096-token examples, 20 steps, the same way.
- generation: 64 prompts of mixed length (192 to 3,840 tokens), 256 new tokens, through
  `models.generate.generate` as the evaluate stage calls it: batches of 8 prompts against
  batches filled to `max_batch_tokens` = 8 x (4,096 + 256), a fixed-size batch's worst case.
- vllm: the same prompts through `models.vllm_engine.VllmModel`, only where vllm is installed.

Nothing is downloaded: the models are random weights of the published configurations (below),
with a tokenizer trained here by `models/tiny.py`'s recipe, saved with `save_pretrained` and
loaded through `models.loading` like a downloaded checkpoint. The sections share a time budget
(8 minutes); one that fails or runs out of time is reported as such and the others still run.

Prints one table; `--out FILE` writes it as JSON, with the device and the library versions.
`--smoke`: tiny sizes on CPU (fp32, DeepSpeed over gloo in one process, NF4 through
bitsandbytes' CPU backend), so the test suite runs every code path of this script.

On a GPU machine: benchmarks/gpu_check_run.sh (after benchmarks/gpu_check_wheels.sh here).
Here: .venv/bin/python benchmarks/gpu_check.py --smoke --out /tmp/gpu_check.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ZERO2 = REPO / "configs" / "deepspeed" / "zero2.json"

# Qwen/Qwen2.5-0.5B-Instruct's config.json: 494,032,768 parameters, embeddings tied.
QWEN2_5_0_5B = {
    "hidden_size": 896,
    "num_hidden_layers": 24,
    "num_attention_heads": 14,
    "num_key_value_heads": 2,
    "intermediate_size": 4864,
    "vocab_size": 151936,
    "max_position_embeddings": 32768,
    "rms_norm_eps": 1e-6,
    "rope_theta": 1000000.0,
    "tie_word_embeddings": True,
    "initializer_range": 0.02,
}
# microsoft/Phi-4-mini-instruct's config.json: 3,836,021,760 parameters, embeddings tied. Its
# LongRoPE factors are left out: up to original_max_position_embeddings (4,096 tokens) they
# only rescale the rotary frequencies, at no cost.
PHI_4_MINI = {
    "hidden_size": 3072,
    "num_hidden_layers": 32,
    "num_attention_heads": 24,
    "num_key_value_heads": 8,
    "intermediate_size": 8192,
    "vocab_size": 200064,
    "max_position_embeddings": 131072,
    "original_max_position_embeddings": 4096,
    "partial_rotary_factor": 0.75,
    "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0,
    "tie_word_embeddings": True,
    "initializer_range": 0.02,
}
PUBLISHED_PARAMETERS = {"qwen2.5-0.5b": 494_032_768, "phi-4-mini": 3_836_021_760}
# --smoke: the tiny models' shape (models/tiny.py); vocab_size None: the tokenizer's own size
TINY = {
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "intermediate_size": 128,
    "vocab_size": None,
    "tie_word_embeddings": True,
    "initializer_range": 0.1,
}
MODELS = {  # name in the sweep -> (family, config class)
    "qwen2.5-0.5b": ("qwen2", "Qwen2Config"),
    "phi-4-mini": ("phi3", "Phi3Config"),
}
LORA_TARGETS = ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"]

# Dense bf16 tensor-core peaks (no sparsity) in TFLOP/s, from NVIDIA's data sheets. The first
# entry whose words all appear in torch.cuda.get_device_name() names the GPU ("NVIDIA H100 80GB
# HBM3" is the SXM module, "NVIDIA A100-SXM4-80GB" an A100).
BF16_PEAK_TFLOPS = [
    (("H100", "PCIe"), "H100 PCIe", 756.0),
    (("H100", "NVL"), "H100 NVL", 835.0),
    (("H100",), "H100 SXM", 989.4),
    (("GH200",), "GH200", 989.4),
    (("H200", "NVL"), "H200 NVL", 835.0),
    (("H200",), "H200 SXM", 989.4),
    (("A100",), "A100", 312.0),
]
PACKAGES = ("torch", "transformers", "peft", "accelerate", "deepspeed", "bitsandbytes")
PACKAGES += ("datasets", "vllm")

SECTIONS = ("full", "qlora", "generation", "vllm")  # the order they run in


@dataclass(frozen=True)
class Sizes:
    full_shape: dict  # the Qwen2 model's
    lora_shape: dict  # the Phi3 model's
    example_tokens: int  # prompt + summary of one training example
    summary_tokens: int
    steps: int
    warmup_steps: int  # left out of tokens/s (first kernels, allocator growth)
    prompts: int
    new_tokens: int
    shortest_prompt: int
    longest_prompt: int
    eval_batch_size: int
    eval_max_input_tokens: int
    budget_s: int  # all sections together

    @property
    def max_batch_tokens(self) -> int:
        """The token budget of a batch: a fixed-size batch's worst case (longest prompts)."""
        return self.eval_batch_size * (self.eval_max_input_tokens + self.new_tokens)


GPU_SIZES = Sizes(
    full_shape=QWEN2_5_0_5B,
    lora_shape=PHI_4_MINI,
    example_tokens=4096,
    summary_tokens=256,
    steps=20,
    warmup_steps=2,
    prompts=64,
    new_tokens=256,
    shortest_prompt=192,  # the prompt template alone takes ~140 tokens
    longest_prompt=3840,
    eval_batch_size=8,
    eval_max_input_tokens=4096,
    budget_s=480,
)
# The prompt template alone takes about 140 tokens with the small tokenizer trained here, so
# the smallest examples and prompts that hold some article are a few hundred tokens long.
SMOKE_SIZES = Sizes(
    full_shape=TINY,
    lora_shape=TINY,
    example_tokens=256,
    summary_tokens=24,
    steps=3,
    warmup_steps=1,
    prompts=4,
    new_tokens=8,
    shortest_prompt=160,
    longest_prompt=240,
    eval_batch_size=2,
    eval_max_input_tokens=512,  # a budget of 2 x 520 tokens: the 4 prompts in one batch
    budget_s=600,
)


# ---------------------------------------------------------------- the parent: sections, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on CPU (the test suite)")
    parser.add_argument("--out", type=Path, help="write the results as JSON to this file")
    parser.add_argument("--work", type=Path, help="keep models and sweeps here (default: temp)")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    parser.add_argument("--section", choices=SECTIONS, help=argparse.SUPPRESS)  # in a child
    args = parser.parse_args()
    sizes = SMOKE_SIZES if args.smoke else GPU_SIZES
    offline_environment(args.smoke)

    if args.section:
        result = SECTION_FUNCTIONS[args.section](sizes, args.work)
        (args.work / f"{args.section}.json").write_text(json.dumps(result, indent=2))
        return

    started = time.perf_counter()
    if args.work:
        args.work.mkdir(parents=True, exist_ok=True)
        results = run_sections(args, sizes, args.work)
    else:
        with tempfile.TemporaryDirectory(prefix="gpu-check-") as work:
            results = run_sections(args, sizes, Path(work))
    results["seconds"] = round(time.perf_counter() - started, 1)
    print(table(results))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")
        print(f"written to {args.out}")
    parts = [results.get(key, {}) for key in ("full_finetune", "qlora", "generation")]
    parts.append(results.get("generation", {}).get("vllm", {}))
    failed = [part["error"] for part in parts if "error" in part]
    if failed:
        raise SystemExit(f"{len(failed)} section(s) failed: {'; '.join(failed)}")


def offline_environment(smoke: bool) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if smoke:  # a shared 2-core machine: two torch threads spin-wait on each other
        os.environ.setdefault("OMP_NUM_THREADS", "1")


def run_sections(args, sizes: Sizes, work: Path) -> dict:
    results = {"smoke": args.smoke, **device_and_versions(), "sizes": asdict(sizes)}
    deadline = time.monotonic() + sizes.budget_s
    parts = {}
    for section in SECTIONS:
        if args.only and section not in args.only:
            continue
        if section == "vllm" and not results["cuda"]:
            parts[section] = {"skipped": "no GPU"}
        elif section == "vllm" and find_spec("vllm") is None:
            parts[section] = {"skipped": "vllm is not installed"}
        elif time.monotonic() > deadline - 10:
            parts[section] = {"error": f"not run: the {sizes.budget_s} s budget is spent"}
        else:
            print(f"{section}: running ...", flush=True)
            parts[section] = run_section(section, args.smoke, work, deadline - time.monotonic())
            print(f"{section}: {'failed' if 'error' in parts[section] else 'done'}", flush=True)
    if "full" in parts:
        results["full_finetune"] = parts["full"] | {"mfu": mfu(parts["full"], results)}
    if "qlora" in parts:
        results["qlora"] = parts["qlora"]
    if "generation" in parts or "vllm" in parts:
        results["generation"] = parts.get("generation", {})
        if "vllm" in parts:
            results["generation"]["vllm"] = vllm_ratios(parts["vllm"], results["generation"])
    return results


def run_section(section: str, smoke: bool, work: Path, timeout: float) -> dict:
    """One section in a child process: its own GPU memory and peak, its own process group."""
    log = work / f"{section}.log"
    command = [sys.executable, __file__, "--section", section, "--work", str(work)]
    env = dict(os.environ)
    # DeepSpeed needs a torch.distributed rendezvous even for one process (gloo on CPU)
    env |= {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "LOCAL_WORLD_SIZE": "1"}
    env |= {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port())}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    started = time.perf_counter()
    with open(log, "w") as out:
        child = subprocess.Popen(
            command + (["--smoke"] if smoke else []),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            code = child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            code = f"killed after {timeout:.0f} s, at the end of the time budget"
    seconds = round(time.perf_counter() - started, 1)
    result_file = work / f"{section}.json"
    if code != 0 or not result_file.is_file():
        tail = log.read_text(errors="replace").splitlines()[-40:]
        print("\n".join(f"  | {line}" for line in tail), file=sys.stderr)
        return {"error": f"exit {code}", "log_tail": tail, "seconds": seconds}
    return json.loads(result_file.read_text()) | {"seconds": seconds}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def device_and_versions() -> dict:
    import torch

    cuda = torch.cuda.is_available()
    name = torch.cuda.get_device_name(0) if cuda else f"CPU ({platform.machine()})"
    peak = bf16_peak(name) if cuda else None
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "device": name,
        "cuda": torch.version.cuda if cuda else None,
        "bf16_peak_gpu": peak[0] if peak else None,
        "bf16_peak_tflops": peak[1] if peak else None,
        "python": platform.python_version(),
        "versions": versions,
    }


def bf16_peak(device_name: str) -> tuple[str, float] | None:
    """(the GPU as the peak table names it, its bf16 dense peak in TFLOP/s), or None."""
    for words, label, tflops in BF16_PEAK_TFLOPS:
        if all(word in device_name for word in words):
            return label, tflops
    return None


def mfu(full: dict, results: dict) -> float | str:
    """6 x parameters x tokens/s over the bf16 dense peak; the recomputation of gradient
    checkpointing and attention's own FLOPs are not counted (the usual convention)."""
    if "error" in full:
        return "n/a"
    if not results["cuda"]:
        return "n/a (CPU)"
    if results["bf16_peak_tflops"] is None:
        return f"n/a (no bf16 peak known for {results['device']})"
    flops = 6 * full["parameters"] * full["tokens_per_second"]
    return flops / (results["bf16_peak_tflops"] * 1e12)


def vllm_ratios(vllm: dict, hf: dict) -> dict:
    if "tokens_per_second" not in vllm or "budget" not in hf:
        return vllm
    return vllm | {
        "ratio_to_hf_fixed": vllm["tokens_per_second"] / hf["fixed"]["tokens_per_second"],
        "ratio_to_hf_budget": vllm["tokens_per_second"] / hf["budget"]["tokens_per_second"],
    }


# ---------------------------------------------------------------- the table


def table(results: dict) -> str:
    head = f"GPU check on {results['device']}"
    if results["bf16_peak_gpu"]:
        head += f" (bf16 dense peak {results['bf16_peak_tflops']:g} TFLOP/s: "
        head += f"{results['bf16_peak_gpu']})"
    versions = ", ".join(f"{k} {v}" for k, v in results["versions"].items() if v)
    row = "{:<40} {:>9} {:>10} {:>12}  {}"
    lines = [head, f"python {results['python']}, {versions}", ""]
    lines.append(row.format("section", "tokens/s", "MFU", "peak memory", "notes"))
    for label, part, note in table_rows(results):
        if "error" in part:
            lines.append(row.format(label, "-", "-", "-", f"FAILED: {part['error']}"))
        elif "skipped" in part:
            lines.append(row.format(label, "-", "-", "-", f"skipped: {part['skipped']}"))
        else:
            mfu_value = part.get("mfu", "-")
            memory = part.get("peak_memory_gb")
            lines.append(
                row.format(
                    label,
                    f"{part['tokens_per_second']:,.0f}",
                    f"{100 * mfu_value:.1f}%" if isinstance(mfu_value, float) else mfu_value,
                    "-"
                    if memory is None
                    else f"{memory:.2f} GiB" + ("" if results["cuda"] else " RSS"),
                    note(part),
                )
            )
    lines.append(f"\n{results['seconds']:.0f} s in all")
    return "\n".join(lines)


def table_rows(results: dict) -> list:
    """(label, part of the results, its notes) for each row of the table."""
    sizes = results["sizes"]

    def trained(part: dict) -> str:
        published = part.get("published_parameters")
        count = f"{part['parameters']:,} parameters"
        if published:
            count += " (as published)" if part["parameters"] == published else " (NOT published)"
        return (
            f"{part['steps']} steps x {part['tokens_per_example']:,.0f} tokens, "
            f"{part['precision']}, loss {part['first_loss']:.2f} -> {part['last_loss']:.2f}"
            f"{'' if part['loss_finite'] else ' NOT FINITE'}; {count}"
        )

    def generated(part: dict) -> str:
        n, new = sizes["prompts"], sizes["new_tokens"]
        return f"{n} prompts x {new} new tokens, {part['batches']} batches"

    rows = []
    if "full_finetune" in results:
        rows.append(("full FT qwen2.5-0.5b, ZeRO-2", results["full_finetune"], trained))
    if "qlora" in results:
        rows.append(("QLoRA phi-4-mini, NF4, r 32", results["qlora"], trained))
    generation = results.get("generation", {})
    if "error" in generation:
        rows.append(("generation HF", generation, None))
    elif "fixed" in generation:
        budget = generation["max_batch_tokens"]
        rows.append(
            (
                f"generation HF, batches of {sizes['eval_batch_size']}",
                generation["fixed"],
                generated,
            )
        )
        rows.append(
            (
                f"generation HF, max_batch_tokens {budget:,}",
                generation["budget"],
                lambda part: (
                    f"{generated(part)}; {generation['budget_over_fixed']:.2f}x fixed; identical "
                    f"outputs {generation['identical_outputs']}/{sizes['prompts']}"
                ),
            )
        )
    if "vllm" in generation:
        rows.append(("generation vLLM", generation["vllm"], vllm_note))
    return rows


def vllm_note(part: dict) -> str:
    if "ratio_to_hf_fixed" not in part:
        return "no HF figures to compare with"
    return (
        f"{part['ratio_to_hf_fixed']:.2f}x HF fixed, "
        f"{part['ratio_to_hf_budget']:.2f}x HF token budget"
    )


# ---------------------------------------------------------------- models and data


def model_folder(name: str, sizes: Sizes, work: Path) -> Path:
    """A random model of `name`'s configuration, saved with a tokenizer trained here; built once
    per work folder (the generation section evaluates the model the full section built)."""
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    from babelsum.models.tiny import build_tiny_model, tokenizer_corpus

    folder = work / "models" / name
    if (folder / "config.json").is_file():
        return folder
    family, config_class = MODELS[name]
    shape = dict(sizes.full_shape if family == "qwen2" else sizes.lora_shape)
    if family == "phi3":  # the tiny shape too: Phi-4-mini's partial rotary embedding
        shape.setdefault("partial_rotary_factor", 0.75)
    # the tiny recipe trains the tokenizer and sets the family's special tokens, chat template
    # and generation config
    scratch = work / "models" / f"{name}.tiny"
    tiny = build_tiny_model(family, scratch, tokenizer_corpus())
    tokenizer = AutoTokenizer.from_pretrained(tiny)
    tiny_config = transformers.AutoConfig.from_pretrained(tiny)
    vocab = shape.pop("vocab_size") or len(tokenizer)
    if vocab > len(tokenizer):
        # every id the model can generate then decodes to a piece of its own, so the outputs of
        # two batchings compare token for token (the trained vocabulary has 1,200 tokens)
        tokenizer.add_tokens([f"<|extra_{i}|>" for i in range(vocab - len(tokenizer))])
    config = getattr(transformers, config_class)(
        vocab_size=vocab,
        bos_token_id=tiny_config.bos_token_id,
        eos_token_id=tiny_config.eos_token_id,
        pad_token_id=tiny_config.pad_token_id,
        **shape,
    )
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    with torch.device(device):  # random init of 3.8B parameters: seconds on a GPU
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.generation_config = GenerationConfig.from_pretrained(tiny)
    staging = folder.with_name(f"{name}.staging")
    tokenizer.save_pretrained(staging)
    model.save_pretrained(staging)
    del model
    os.rename(staging, folder)
    shutil.rmtree(scratch)
    if device == "cuda":
        torch.cuda.empty_cache()
    return folder


def english_articles() -> tuple[list[str], list[str]]:
    """Texts and summaries of the synthetic corpus's English articles."""
    from babelsum.data.synthetic import synthetic_articles

    articles = synthetic_articles(topics=60, seed=0, languages=["en"])
    return [a["text"] for a in articles], [a["summary"] for a in articles]


def joined(texts: list[str], start: int, chars: int) -> str:
    """Texts from `start` on (round the list), joined into one of at least `chars` characters."""
    parts, size, k = [], 0, start
    while size < chars:
        parts.append(texts[k % len(texts)])
        size += len(parts[-1]) + 2
        k += 1
    return "\n\n".join(parts)


def train_records(tokenizer, count: int, article_tokens: int, summary_tokens: int) -> list[dict]:
    """`count` records whose article outgrows `article_tokens` (the train stage cuts it to fit:
    more than 8 characters per token never happens here) and whose summary is `summary_tokens`
    tokens long."""
    texts, summaries = english_articles()
    records = []
    for i in range(count):
        ids = tokenizer(joined(summaries, i, 8 * summary_tokens), add_special_tokens=False)
        records.append(
            {
                "article_id": f"long-{i}",
                "language": "en",
                "title": f"Long article {i}",
                "text": joined(texts, i, 8 * article_tokens),
                "summary": tokenizer.decode(ids["input_ids"][:summary_tokens]).strip(),
                "summary_language": "en",
                "summary_source": "gold",
                "source": "synthetic",
            }
        )
    return records


# ---------------------------------------------------------------- training sections


def train_section(name: str, method: dict, sizes: Sizes, work: Path) -> dict:
    """The train task of a one-method sweep whose split task is done, run as a job runs it."""
    import torch

    from babelsum.config import validate_config
    from babelsum.data.schema import save_records
    from babelsum.models.loading import load_tokenizer, model_skeleton
    from babelsum.runner import run_task
    from babelsum.state import TaskStatus
    from babelsum.sweep import create_sweep

    path = model_folder(name, sizes, work)
    cuda = torch.cuda.is_available()
    method = {
        "model": name,
        "precision": "bf16" if cuda else "auto",  # auto: fp32 on CPU
        "gradient_checkpointing": True,
        "per_device_batch_size": 1,
        "gradient_accumulation": 1,
        "max_steps": sizes.steps,
        "warmup_ratio": 0.0,
        # the prompt's budget: the summary and its two end-of-turn tokens fill the rest
        "max_input_tokens": sizes.example_tokens - sizes.summary_tokens - 2,
        "max_summary_tokens": sizes.summary_tokens,
        "batching": "length_grouped",
        "save_steps": 100_000,  # no checkpoint inside the measurement
        "logging_steps": 1,  # a journal record, with its time, per step
        **method,
    }
    data = {
        "study": f"gpu-check-{method['method']}",
        "languages": ["en"],
        "models": {name: {"path": str(path), "family": MODELS[name][0]}},
        "train": {"languages": ["en"], "methods": [method]},
        "evaluate": {"test_sets": ["novel"]},
        "tracking": {"enabled": False},
    }
    config_file = work / f"{method['method']}.json"
    config_file.write_text(json.dumps(data, indent=2))
    config = validate_config(data)
    folder, plan = create_sweep(
        config, work / f"sweep-{method['method']}", "local", str(config_file)
    )

    # the split task's output as the split stage leaves it: a train split of long articles
    split = plan.stage("split").tasks[0]
    staged = folder.task_dir(split.key) / "output.tmp-gpu-check"
    tokenizer = load_tokenizer(config.models[name])
    records = train_records(tokenizer, sizes.steps, sizes.example_tokens, sizes.summary_tokens)
    save_records(records, staged / "train")
    folder.publish_output(split.key, staged)
    folder.write_status(TaskStatus(split.key, split.stage, split.index, state="done"))

    (task,) = plan.stage("train").tasks
    # of the model as built (a 4-bit model counts its packed weights at half their number)
    parameters = sum(p.numel() for p in model_skeleton(config.models[name]).parameters())
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    run_task(folder.root, "train", task.index)
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else peak_rss_gb()

    details = json.loads((folder.output_dir(task.key) / "train_summary.json").read_text())
    journal = folder.journal_path(task.key).read_text().splitlines()
    steps = [  # one record per step (logging_steps 1); not the task's closing summary
        r for r in map(json.loads, journal) if r["kind"] == "metrics" and "loss" in r["metrics"]
    ]
    losses = [r["metrics"]["loss"] for r in steps]
    data_report = details["data"]
    tokens_per_example = data_report["mean_prompt_tokens"] + data_report["mean_completion_tokens"]
    # The steps after the warm-up, timed by when each was journaled; not the logged
    # tokens_per_second: the collator counts a batch when the data loader fetches it, one
    # batch ahead of training, so the first step's figure holds two batches, the last none.
    first, last = steps[sizes.warmup_steps - 1], steps[-1]
    measured = last["step"] - first["step"]
    return {
        "model": name,
        "method": details["method"],
        "precision": details["precision"],
        "deepspeed_zero_stage": details["deepspeed_zero_stage"],
        "parameters": parameters,
        "published_parameters": None if sizes is SMOKE_SIZES else PUBLISHED_PARAMETERS[name],
        "trainable_parameters": details["trainable_parameters"],
        "steps": details["steps"],
        "tokens_per_example": tokens_per_example,  # one example per step
        "tokens_per_second": measured * tokens_per_example / (last["time"] - first["time"]),
        "steps_measured": measured,
        "peak_memory_gb": peak,
        "peak_memory_kind": "torch.cuda.max_memory_allocated" if cuda else "peak RSS (CPU)",
        "first_loss": losses[0],
        "last_loss": losses[-1],
        "loss_finite": all(math.isfinite(x) for x in losses),
        "train_seconds": details["train_seconds"],
    }


def peak_rss_gb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def full_section(sizes: Sizes, work: Path) -> dict:
    method = {"method": "full", "learning_rate": 2.0e-5, "deepspeed": str(ZERO2)}
    return train_section("qwen2.5-0.5b", method, sizes, work)


def qlora_section(sizes: Sizes, work: Path) -> dict:
    method = {
        "method": "qlora",
        "learning_rate": 5.0e-4,
        "lora_r": 32,
        "lora_alpha": 64,
        "lora_dropout": 0.05,
        "target_modules": LORA_TARGETS,
    }
    return train_section("phi-4-mini", method, sizes, work)


# ---------------------------------------------------------------- generation sections


def generation_spec(sizes: Sizes, work: Path):
    import torch

    from babelsum.config import ModelSpec

    path = model_folder("qwen2.5-0.5b", sizes, work)
    dtype = "bfloat16" if torch.cuda.is_available() else "float32"
    return ModelSpec(path=str(path), family="qwen2", dtype=dtype)


def mixed_prompts(tokenizer, spec, sizes: Sizes) -> list[str]:
    """Evaluation prompts (the article cut to fit, as the evaluate stage makes them) whose
    token budgets are spread evenly from the shortest to the longest, in a shuffled order."""
    from babelsum.models.prompts import fit_generation_prompt

    texts, _ = english_articles()
    n = sizes.prompts
    step = (sizes.longest_prompt - sizes.shortest_prompt) / max(n - 1, 1)
    budgets = [round(sizes.shortest_prompt + i * step) for i in range(n)]
    random.Random(0).shuffle(budgets)
    prompts = []
    for i, budget in enumerate(budgets):
        prompt, _ = fit_generation_prompt(
            tokenizer,
            spec,
            joined(texts, i, 8 * budget),
            f"Article {i}",
            "en",
            "en",
            max_input_tokens=budget,
        )
        prompts.append(prompt)
    return prompts


def prompt_lengths(tokenizer, prompts: list[str]) -> list[int]:
    # chat prompts hold their special tokens already, as generate() encodes them
    return [len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts]


def timed_generation(model, tokenizer, spec, prompts: list[str], sizes: Sizes, budget=None):
    import torch

    from babelsum.models.generate import batches, generate

    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    generations = generate(
        model,
        tokenizer,
        spec,
        prompts,
        batch_size=sizes.eval_batch_size,
        max_new_tokens=sizes.new_tokens,
        target_lang="en",
        source_lang="en",
        max_batch_tokens=budget,
    )
    seconds = time.perf_counter() - started  # generate() ends on Python lists: synchronized
    tokens = sum(g.new_tokens for g in generations)
    lengths = prompt_lengths(tokenizer, prompts)
    return generations, {
        "seconds": seconds,
        "new_tokens": tokens,
        "tokens_per_second": tokens / seconds,
        "batches": len(batches(lengths, sizes.eval_batch_size, sizes.new_tokens, budget)),
        "failed": sum(g.status == "failed" for g in generations),
        "peak_memory_gb": torch.cuda.max_memory_allocated() / 2**30 if cuda else peak_rss_gb(),
    }


def generation_section(sizes: Sizes, work: Path) -> dict:
    import torch

    from babelsum.models.loading import load_model, load_tokenizer

    if not torch.cuda.is_available():
        torch.set_num_threads(1)
    spec = generation_spec(sizes, work)
    model, tokenizer = load_model(spec), load_tokenizer(spec)  # as evaluate.loaded_model does
    prompts = mixed_prompts(tokenizer, spec, sizes)
    timed_generation(model, tokenizer, spec, prompts[:2], sizes)  # warm-up: kernels, allocator
    fixed, fixed_figures = timed_generation(model, tokenizer, spec, prompts, sizes)
    budget, budget_figures = timed_generation(
        model, tokenizer, spec, prompts, sizes, sizes.max_batch_tokens
    )
    lengths = prompt_lengths(tokenizer, prompts)
    return {
        "model": "qwen2.5-0.5b",
        "dtype": spec.dtype,
        "prompt_tokens": [min(lengths), max(lengths)],
        "max_batch_tokens": sizes.max_batch_tokens,
        "fixed": fixed_figures,
        "budget": budget_figures,
        "budget_over_fixed": budget_figures["tokens_per_second"]
        / fixed_figures["tokens_per_second"],
        # greedy decoding: the same text and length, whatever the batch a prompt was in
        "identical_outputs": sum(a == b for a, b in zip(fixed, budget, strict=True)),
    }


def vllm_section(sizes: Sizes, work: Path) -> dict:
    from babelsum.models.vllm_engine import VllmModel

    spec = generation_spec(sizes, work)
    engine = VllmModel(spec, sizes.eval_max_input_tokens + sizes.new_tokens, "gpu_check vllm")
    prompts = mixed_prompts(engine.tokenizer, spec, sizes)
    engine.generate(prompts[:2], 4)  # warm-up
    started = time.perf_counter()
    generations = engine.generate(prompts, sizes.new_tokens)
    seconds = time.perf_counter() - started
    tokens = sum(g.new_tokens for g in generations)
    return {
        "seconds": seconds,
        "new_tokens": tokens,
        "tokens_per_second": tokens / seconds,
        "failed": sum(g.status == "failed" for g in generations),
    }


SECTION_FUNCTIONS = {
    "full": full_section,
    "qlora": qlora_section,
    "generation": generation_section,
    "vllm": vllm_section,
}

if __name__ == "__main__":
    main()
