#!/usr/bin/env bash
# Set up and run the checks CI runs: ruff (lint + format), then the whole test suite.
# The tests start what they need themselves: a single-node SLURM cluster (slurm/local-cluster,
# Debian packages installed when missing; needs root) and an MLflow server on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
exec .venv/bin/python -m pytest -q -ra "$@"
