#!/usr/bin/env bash
# Write requirements.lock: every package of babelsum's environment at one version, that is
# pyproject.toml's dependencies and dev extra and everything they pull in, plus pip itself.
# scripts/setup.sh and containers/babelsum.def install from it.
#
#   bash scripts/lock.sh             # keep the current pins; add or drop what pyproject changed
#   bash scripts/lock.sh --upgrade   # the newest versions pyproject allows
#
# The resolver is pip's own (`pip install --dry-run --report`), not uv or pip-tools: it reads
# this machine's pip configuration, where the CPU build of torch lies (uv would not see it and
# would pull several GB of CUDA packages), and it needs no tool beyond what .venv has.
# The pins are for the Python of .venv on Linux x86_64 (CPython 3.11 on this machine kind).
# To move torch, change TORCH below (and TORCH_VERSION in containers/babelsum.def), then
# run with --upgrade.
set -euo pipefail
cd "$(dirname "$0")/.."
TORCH="torch==2.13.0"
PY="${PYTHON:-.venv/bin/python}"
LOCK=requirements.lock

keep=()
case "${1:-}" in
  --upgrade) ;;
  "") [ -f "$LOCK" ] && keep=(-c "$LOCK") ;;  # constraints: pins kept, nothing added by them
  *) echo "usage: scripts/lock.sh [--upgrade]" >&2; exit 2 ;;
esac
if [ ! -x "$PY" ]; then
  echo "error: $PY is missing: run bash scripts/setup.sh first (or set PYTHON)" >&2
  exit 2
fi

report=$(mktemp)
trap 'rm -f "$report"' EXIT
# --ignore-installed: resolve as for an empty environment, not around what .venv holds
"$PY" -m pip install --quiet --dry-run --ignore-installed --report "$report" \
  "${keep[@]}" -e '.[dev]' "$TORCH"

"$PY" - "$report" "$LOCK" "$TORCH" <<'EOF'
import json
import re
import sys

report, lock, torch = sys.argv[1:]
found = json.load(open(report))
pins = {"pip": found["pip_version"]}
for item in found["install"]:
    name = re.sub(r"[-_.]+", "-", item["metadata"]["name"]).lower()
    if name != "babelsum":
        pins[name] = item["metadata"]["version"]
# the CPU build here is torch 2.13.0+cpu: pin the public version, which any build satisfies
pins["torch"] = torch.split("==")[1]
env = found["environment"]
header = f"""\
# Every package of babelsum's environment at one version: pyproject.toml's dependencies and
# dev extra, what they pull in, and pip. Written by scripts/lock.sh; do not edit by hand.
# Resolved for CPython {env["python_version"]} on {env["platform_system"]} {env["platform_machine"]}.
# torch is the CPU build on this machine kind; containers/babelsum.def installs the CUDA build
# of the same version first, then these pins less torch.
"""
with open(lock, "w") as out:
    out.write(header + "".join(f"{n}=={v}\n" for n, v in sorted(pins.items())))
print(f"{lock}: {len(pins)} packages pinned")
EOF
