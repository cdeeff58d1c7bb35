#!/usr/bin/env bash
# Synthesize the eval set with a checkpoint on one GPU device, in the background (the zoo's script).
# Usage: bash scripts/run_eval_gpu.sh DEVICE_ID PATH_CHECKPOINT [--key value ...]
# (e.g. --eval_data_path DATASET/val --output_path output/). Log: ./eval.log; audio: output_path.
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "Usage: bash $0 DEVICE_ID PATH_CHECKPOINT [--key value ...]" >&2
    exit 1
fi
exec bash "$(dirname "$0")/run_eval_device.sh" GPU "$@"
