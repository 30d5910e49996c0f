#!/usr/bin/env bash
# Run benchmarks/gpu_check.py on a GPU machine that reaches no package registry: install the
# wheels benchmarks/gpu_check_wheels.sh downloaded into .whl/ (carried along with this
# checkout), put babelsum's source on PYTHONPATH, and run the check (8 minutes at most).
#
#   benchmarks/gpu_check_run.sh --out gpu_check.json [other gpu_check.py options]
#
# The wheels go into a folder of their own, first on PYTHONPATH, rather than into a venv with
# --system-site-packages: the machine's python3 is itself a venv (/opt/torch/.venv), and a venv
# made from it would see its base interpreter's packages, not that venv's torch.
# Env: PYTHON (python3), WHEELS (.whl), SITE (/tmp/gpu-check-site).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
WHEELS=${WHEELS:-.whl}
SITE=${SITE:-/tmp/gpu-check-site}

shopt -s nullglob
wheels=("$WHEELS"/*.whl)
if [ ${#wheels[@]} -eq 0 ]; then
  echo "no wheels in $WHEELS: run benchmarks/gpu_check_wheels.sh first (where pip works)" >&2
  exit 2
fi
# --no-deps: the wheels hold what the machine lacks; the rest (torch, numpy, pyarrow...) is there
"$PYTHON" -m pip install -q --no-index --find-links "$WHEELS" --no-deps --no-compile \
  --no-cache-dir --upgrade --target "$SITE" "${wheels[@]}"
export PYTHONPATH="$SITE:$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1

# what the check imports, before minutes of model building: a missing piece shows at once
"$PYTHON" - <<'EOF'
import importlib.metadata as m

import babelsum.stages.train  # noqa: F401  (transformers, datasets, peft, pydantic, ...)
import bitsandbytes  # noqa: F401
import deepspeed  # noqa: F401
import torch

names = ("torch", "transformers", "peft", "accelerate", "deepspeed", "bitsandbytes", "datasets")
print(", ".join(f"{n} {m.version(n)}" for n in names + ("pyarrow", "huggingface_hub")))
print("GPU:", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none")
EOF
exec "$PYTHON" benchmarks/gpu_check.py "$@"
