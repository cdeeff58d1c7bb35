#!/usr/bin/env bash
# Data-parallel training on the Ascend devices of a rank table (HCCL), one process per device,
# in the background (the zoo's script). Logs: ./train_parallel{i}/log; rank 0 saves checkpoints.
# Usage: bash scripts/run_distribute_train_ascend.sh RANK_TABLE_FILE [--key value ...]
set -euo pipefail
if [ $# -lt 1 ] || [ ! -f "$1" ]; then
    echo "Usage: bash $0 RANK_TABLE_FILE [--key value ...]  (RANK_TABLE_FILE: hccl_tools' JSON)" >&2
    exit 1
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-$( [ -x "$ROOT/.venv/bin/python" ] && echo "$ROOT/.venv/bin/python" || echo python )}
export RANK_TABLE_FILE=$(realpath "$1")
shift
# One process per device listed in the rank table (RANK_SIZE overrides).
export RANK_SIZE=${RANK_SIZE:-$(grep -o '"device_id"' "$RANK_TABLE_FILE" | wc -l)}
if [ "$RANK_SIZE" -lt 1 ]; then
    echo "error: $RANK_TABLE_FILE lists no devices" >&2
    exit 1
fi
for ((i = 0; i < RANK_SIZE; i++)); do
    export DEVICE_ID=$i RANK_ID=$i
    rm -rf "train_parallel$i"
    mkdir "train_parallel$i"
    nohup "$PYTHON" "$ROOT/train.py" --device_target Ascend --run_distribute True --device_id "$i" "$@" \
        > "train_parallel$i/log" 2>&1 &
    echo "rank $i on device $i (pid $!); log: $PWD/train_parallel$i/log"
done
