#!/usr/bin/env bash
# Synthesize the eval set with a checkpoint on the CPU, in the background.
# Usage: bash scripts/run_eval_cpu.sh [DEVICE_ID] PATH_CHECKPOINT [--key value ...]
# (DEVICE_ID is accepted for symmetry with the Ascend/GPU scripts; the CPU ignores it.)
# e.g. --eval_data_path DATASET/val --output_path output/. Log: ./eval.log; audio: output_path.
set -euo pipefail
DEVICE_ID=0
if [ $# -ge 2 ] && [[ "$1" =~ ^[0-9]+$ ]] && [[ "$2" != --* ]]; then DEVICE_ID=$1; shift; fi
if [ $# -lt 1 ] || [[ "$1" == --* ]]; then
    echo "Usage: bash $0 [DEVICE_ID] PATH_CHECKPOINT [--key value ...]" >&2
    exit 1
fi
exec bash "$(dirname "$0")/run_eval_device.sh" CPU "$DEVICE_ID" "$@"
