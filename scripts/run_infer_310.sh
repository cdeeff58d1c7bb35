#!/usr/bin/env bash
# Ascend 310 inference (the zoo's script): bash scripts/run_infer_310.sh MODEL_PATH DATA_PATH [DEVICE_ID]
# Same pipeline as run_infer_cpp.sh with DEVICE_TYPE Ascend310.
set -euo pipefail
if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: bash scripts/run_infer_310.sh MODEL_PATH DATA_PATH [DEVICE_ID]" >&2
    exit 1
fi
exec bash "$(dirname "$0")/run_infer_cpp.sh" "$1" "$2" Ascend310 "${3:-0}"
