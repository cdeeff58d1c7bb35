#!/usr/bin/env bash
# Synthesize the eval set with a checkpoint on the CPU, in the background.
# Usage: bash scripts/run_eval_cpu.sh [DEVICE_ID] PATH_CHECKPOINT [--key value ...]
# (DEVICE_ID is accepted for symmetry with the Ascend/GPU scripts and ignored.)
# e.g. --eval_data_path DATASET/val --output_path output/. Log: ./eval.log; audio: output_path.
set -euo pipefail
if [ $# -ge 2 ] && [[ "$1" =~ ^[0-9]+$ ]] && [[ "$2" != --* ]]; then shift; fi
if [ $# -lt 1 ] || [[ "$1" == --* ]]; then
    echo "Usage: bash $0 [DEVICE_ID] PATH_CHECKPOINT [--key value ...]" >&2
    exit 1
fi
[ -f "$1" ] || { echo "error: $1: checkpoint file not found" >&2; exit 1; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-$( [ -x "$ROOT/.venv/bin/python" ] && echo "$ROOT/.venv/bin/python" || echo python )}
CKPT=$1
shift
nohup "$PYTHON" "$ROOT/eval.py" --device_target CPU --eval_model_path "$CKPT" "$@" > eval.log 2>&1 &
echo "eval on CPU in the background (pid $!); log: $PWD/eval.log"
