#!/usr/bin/env bash
# Create .venv with babelsum and its dependencies at the versions of requirements.lock
# (idempotent; fast when nothing changed). Refresh the lock with scripts/lock.sh.
# The lock pins torch==2.13.0, which is a CPU build here: unpinned, pip pulls several GB of
# CUDA packages. BABELSUM_TORCH=SPEC installs that torch instead, then the lock less torch.
# On a GPU cluster, install your CUDA torch first, then the lock less torch (as
# containers/babelsum.def does) and `pip install --no-deps -e .`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
LOCK=requirements.lock
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=".venv/.babelsum-installed"
want="$(cat pyproject.toml "$LOCK" | sha256sum | cut -c1-16) ${BABELSUM_TORCH:-locked}"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  pip=(.venv/bin/python -m pip install -q)
  "${pip[@]}" "$(grep '^pip==' "$LOCK")"  # the pip the lock was resolved with
  if [ -n "${BABELSUM_TORCH:-}" ]; then
    "${pip[@]}" "$BABELSUM_TORCH"
    "${pip[@]}" -r <(grep -v '^torch==' "$LOCK")
  else
    "${pip[@]}" -r "$LOCK"
  fi
  "${pip[@]}" --no-deps -e .
  echo "$want" > "$stamp"
fi
echo "babelsum is installed in $(pwd)/.venv"
