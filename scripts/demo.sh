#!/usr/bin/env bash
# Set up, then run the demo sweep (tiny models, synthetic corpus, local executor, 2 CPU cores).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec ./launch sweep configs/demo.yaml "$@"
