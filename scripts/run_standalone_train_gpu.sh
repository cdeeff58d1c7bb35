#!/usr/bin/env bash
# Train on one GPU in the background. Log: ./train.log
# Usage: bash scripts/run_standalone_train_gpu.sh DEVICE_ID [--key value ...]
DEVICE=GPU SCRIPT=$0 exec bash "$(dirname "$0")/run_standalone_train_ascend.sh" "$@"
