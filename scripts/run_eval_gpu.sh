#!/usr/bin/env bash
# Synthesize the eval set with a checkpoint on one GPU device, in the background (the zoo's script).
# Usage: bash scripts/run_eval_gpu.sh DEVICE_ID PATH_CHECKPOINT [--key value ...]
# (e.g. --eval_data_path DATASET/val --output_path output/). Log: ./eval.log; audio: output_path.
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "Usage: bash $0 DEVICE_ID PATH_CHECKPOINT [--key value ...]" >&2
    exit 1
fi
[ -f "$2" ] || { echo "error: $2: checkpoint file not found" >&2; exit 1; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-$( [ -x "$ROOT/.venv/bin/python" ] && echo "$ROOT/.venv/bin/python" || echo python )}
export DEVICE_ID=$1
CKPT=$2
shift 2
nohup "$PYTHON" "$ROOT/eval.py" --device_target GPU --device_id "$DEVICE_ID" --eval_model_path "$CKPT" "$@" \
    > eval.log 2>&1 &
echo "eval on GPU device $DEVICE_ID in the background (pid $!); log: $PWD/eval.log"
