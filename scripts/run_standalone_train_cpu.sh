#!/usr/bin/env bash
# Train on the CPU in the background. Log: ./train.log
# Usage: bash scripts/run_standalone_train_cpu.sh [--key value ...]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-$( [ -x "$ROOT/.venv/bin/python" ] && echo "$ROOT/.venv/bin/python" || echo python )}
nohup "$PYTHON" "$ROOT/train.py" --device_target CPU "$@" > train.log 2>&1 &
echo "training on CPU in the background (pid $!); log: $PWD/train.log"
