#!/usr/bin/env bash
# Shared body of run_eval_{ascend,gpu,cpu}.sh: synthesize the eval set with a checkpoint in the
# background (eval.py), as the zoo's run_eval_ascend.sh does. Log: ./eval.log; audio: output_path.
# Usage: bash scripts/run_eval_device.sh Ascend|GPU|CPU DEVICE_ID PATH_CHECKPOINT [--key value ...]
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "Usage: bash $0 Ascend|GPU|CPU DEVICE_ID PATH_CHECKPOINT [--key value ...]" >&2
    exit 1
fi
TARGET=$1 DEVICE_ID=$2 CKPT=$3
shift 3
[[ "$DEVICE_ID" =~ ^[0-9]+$ ]] || { echo "error: DEVICE_ID must be a number, got '$DEVICE_ID'" >&2; exit 1; }
[ -f "$CKPT" ] || { echo "error: $CKPT: checkpoint file not found" >&2; exit 1; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-$( [ -x "$ROOT/.venv/bin/python" ] && echo "$ROOT/.venv/bin/python" || echo python )}
export DEVICE_ID
nohup "$PYTHON" "$ROOT/eval.py" --device_target "$TARGET" --device_id "$DEVICE_ID" --eval_model_path "$CKPT" "$@" \
    > eval.log 2>&1 &
echo "eval on $TARGET (device $DEVICE_ID) in the background (pid $!); log: $PWD/eval.log"
