#!/usr/bin/env bash
# Data-parallel training on WORKER_NUM GPUs of this machine, launched by msrun (NCCL), in the
# background. Logs: ./train_parallel/worker_{i}.log (msrun's); rank 0 saves checkpoints.
# Usage: bash scripts/run_distribute_train_gpu.sh WORKER_NUM [--key value ...]   (MASTER_PORT=8118)
# (run_distribute_train_cpu.sh runs this with DEVICE=CPU.)
set -euo pipefail
DEVICE=${DEVICE:-GPU}
if [ $# -lt 1 ] || ! [[ "$1" =~ ^[1-9][0-9]*$ ]]; then
    echo "Usage: bash ${SCRIPT:-$0} WORKER_NUM [--key value ...]" >&2
    exit 1
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# msrun starts each worker with the `python` on PATH: prefer the project's virtualenv.
[ -x "$ROOT/.venv/bin/python" ] && export PATH="$ROOT/.venv/bin:$PATH"
WORKERS=$1
shift
rm -rf train_parallel
nohup msrun --worker_num="$WORKERS" --local_worker_num="$WORKERS" --master_addr=127.0.0.1 \
    --master_port="${MASTER_PORT:-8118}" --log_dir=train_parallel --join=True \
    "$ROOT/train.py" --device_target "$DEVICE" --run_distribute True "$@" > train_parallel.log 2>&1 &
echo "$WORKERS $DEVICE workers in the background (msrun pid $!); logs: $PWD/train_parallel/worker_*.log"
