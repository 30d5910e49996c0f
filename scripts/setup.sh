#!/usr/bin/env bash
# Create .venv with babelsum and its dependencies (idempotent; fast when nothing changed).
# torch is pinned to a CPU build here: unpinned, pip pulls several GB of CUDA packages.
# On a GPU cluster, install your CUDA torch first and run: pip install -e '.[dev]'
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
TORCH_SPEC="${BABELSUM_TORCH:-torch==2.13.0}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=".venv/.babelsum-installed"
want="$(cat pyproject.toml | sha256sum | cut -c1-16) $TORCH_SPEC"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q "$TORCH_SPEC"
  .venv/bin/python -m pip install -q -e '.[dev]'
  echo "$want" > "$stamp"
fi
echo "babelsum is installed in $(pwd)/.venv"
