#!/usr/bin/env bash
# Train on one Ascend device in the background (the zoo's script). Log: ./train.log
# Usage: bash scripts/run_standalone_train_ascend.sh DEVICE_ID [--key value ...]
# (run_standalone_train_gpu.sh runs this with DEVICE=GPU.)
set -euo pipefail
DEVICE=${DEVICE:-Ascend}
if [ $# -lt 1 ]; then
    echo "Usage: bash ${SCRIPT:-$0} DEVICE_ID [--key value ...]" >&2
    exit 1
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-$( [ -x "$ROOT/.venv/bin/python" ] && echo "$ROOT/.venv/bin/python" || echo python )}
export DEVICE_ID=$1
shift
nohup "$PYTHON" "$ROOT/train.py" --device_target "$DEVICE" --device_id "$DEVICE_ID" "$@" > train.log 2>&1 &
echo "training on $DEVICE device $DEVICE_ID in the background (pid $!); log: $PWD/train.log"
