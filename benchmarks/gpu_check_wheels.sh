#!/usr/bin/env bash
# The wheels benchmarks/gpu_check.py needs on a GPU machine that has Python 3.12 with torch,
# transformers, accelerate and peft but no deepspeed, bitsandbytes or datasets, and reaches no
# package registry; downloaded here into .whl/ (git-ignored), installed there by
# benchmarks/gpu_check_run.sh.
#
# Each package is pinned to the version this checkout's .venv holds, the versions the test
# suite runs. Only what the check imports and such a machine lacks (or holds too old) travels;
# torch, numpy, pyarrow, pandas, tokenizers, safetensors, regex, pyyaml, jinja2... are there.
# bitsandbytes' wheel carries a CUDA library per CUDA version (43 MB): only the CPU library and
# the one of the machine's CUDA (BNB_CUDA, 130 for its torch cu130) are kept.
#
# Usage: benchmarks/gpu_check_wheels.sh   (env: PYTHON_VERSION=3.12 DEST=.whl BNB_CUDA=130)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
PYTHON_VERSION=${PYTHON_VERSION:-3.12}
DEST=${DEST:-.whl}
BNB_CUDA=${BNB_CUDA:-130}

PACKAGES=(
  # the machine's transformers 5.17 lacks TrainingArguments(activation_checkpointing=), which
  # training/arguments.py passes; 5.25 needs huggingface_hub >= 2.4, whose HTTP client is httpx2
  # (which needs newer anyio and idna), and its from_pretrained needs kernels (and tomlkit)
  transformers huggingface_hub httpx2 httpcore2 truststore anyio idna click kernels tomlkit
  accelerate peft                          # the versions the suite runs with that transformers
  deepspeed hjson                          # ZeRO-2 (hjson reads DeepSpeed's config)
  bitsandbytes                             # NF4
  datasets dill multiprocess               # splits and training examples are Arrow datasets
  pydantic pydantic_core annotated_types typing_inspection typing_extensions  # the config
  sentencex                                # babelsum.lang.sentences (the train stage's ROUGE)
  babel                                    # the synthetic corpus the tokenizers learn from
)
BUILT_HERE=(deepspeed)  # published as a source archive only: built here, pure Python

installed_version() {
  "$PYTHON" -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$1"
}

mkdir -p "$DEST"
rm -f "$DEST"/*.whl
for name in "${PACKAGES[@]}"; do
  pin="$name==$(installed_version "$name")"
  if [[ " ${BUILT_HERE[*]} " == *" $name "* ]]; then
    "$PYTHON" -m pip wheel -q --no-deps --no-binary "$name" "$pin" -w "$DEST"
  else
    "$PYTHON" -m pip download -q --no-deps --only-binary=:all: \
      --python-version "$PYTHON_VERSION" --implementation cp \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
      --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \
      --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
      -d "$DEST" "$pin"
  fi
done

# bitsandbytes without the libraries of other CUDA versions, ROCm and XPU (its RECORD too)
"$PYTHON" - "$DEST" "$BNB_CUDA" <<'EOF'
import re, sys, zipfile
from pathlib import Path

dest, cuda = Path(sys.argv[1]), sys.argv[2]
keep = {"libbitsandbytes_cpu.so", f"libbitsandbytes_cuda{cuda}.so"}
(wheel,) = dest.glob("bitsandbytes-*.whl")
slim = wheel.with_suffix(".slim")


def dropped(name: str) -> bool:
    return bool(re.fullmatch(r"bitsandbytes/libbitsandbytes_\w+\.so", name)) and (
        name.split("/")[-1] not in keep
    )


with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(slim, "w", zipfile.ZIP_DEFLATED) as out:
    names = src.namelist()
    if not any(n.endswith(f"libbitsandbytes_cuda{cuda}.so") for n in names):
        sys.exit(f"{wheel.name} has no libbitsandbytes_cuda{cuda}.so; set BNB_CUDA")
    for info in src.infolist():
        if dropped(info.filename):
            continue
        data = src.read(info)
        if info.filename.endswith(".dist-info/RECORD"):
            lines = data.decode().splitlines(keepends=True)
            data = "".join(l for l in lines if not dropped(l.split(",")[0])).encode()
        out.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
slim.replace(wheel)
EOF

ls -l "$DEST"/*.whl | awk '{printf "%8.1f MB  %s\n", $5 / 1e6, $9}'
du -cb "$DEST"/*.whl | tail -1 | awk '{printf "%8.1f MB  in all\n", $1 / 1e6}'
