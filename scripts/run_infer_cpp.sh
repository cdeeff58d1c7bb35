#!/usr/bin/env bash
# C++ inference of an exported generator MINDIR over a folder of log-mel .npy files:
#   bash scripts/run_infer_cpp.sh MODEL_PATH DATA_PATH DEVICE_TYPE [DEVICE_ID]
# DEVICE_TYPE: Ascend | Ascend310 | GPU | CPU; DEVICE_ID defaults to 0. Builds ascend310_infer/ if
# needed (fetching the MindSpore Lite SDK once unless MINDSPORE_PATH is set), then
# preprocess.py (mel -> .bin windows) -> melgan_infer -> postprocess.py (windows -> WAV).
# Results go to $INFER_OUTPUT (default ./output/cpp_infer): preprocess_Result/, result_Files/,
# time_Result/, wav/ and the logs. A failure prints one line naming the step and the problem.
set -euo pipefail

if [ $# -lt 3 ] || [ $# -gt 4 ]; then
    echo "usage: bash scripts/run_infer_cpp.sh MODEL_PATH DATA_PATH DEVICE_TYPE [DEVICE_ID]" >&2
    exit 1
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
abspath() { realpath -m -- "$1"; }
MODEL_PATH=$(abspath "$1")
DATA_PATH=$(abspath "$2")
DEVICE_TYPE=$3
DEVICE_ID=${4:-0}
EVAL_LENGTH=${EVAL_LENGTH:-240}
OUT=$(abspath "${INFER_OUTPUT:-./output/cpp_infer}")

fail() { echo "error: $*" >&2; exit 1; }
case "$DEVICE_TYPE" in
    Ascend|Ascend310|GPU|CPU) ;;
    *) fail "DEVICE_TYPE must be Ascend, Ascend310, GPU or CPU, got '$DEVICE_TYPE'" ;;
esac
[[ "$DEVICE_ID" =~ ^[0-9]+$ ]] || fail "DEVICE_ID must be a number, got '$DEVICE_ID'"
[ -f "$MODEL_PATH" ] || fail "$MODEL_PATH: model file not found"
[ -e "$DATA_PATH" ] || fail "$DATA_PATH: no such mel file or folder"
mkdir -p "$OUT" 2>/dev/null && [ -w "$OUT" ] || fail "$OUT: cannot write results there"

if [ -x "$ROOT/.venv/bin/python" ]; then PY=$ROOT/.venv/bin/python; else PY=${PYTHON:-python3}; fi

# Run one step with its output in a log; on failure show the step's one-line error.
step() {
    local name=$1 log=$OUT/$1.log
    shift
    if ! "$@" >"$log" 2>&1; then
        local line
        line=$(grep -m1 '^error:' "$log" || tail -n 1 "$log")
        echo "error: $name failed: ${line#error: } (log: $log)" >&2
        exit 1
    fi
}

step build bash "$ROOT/ascend310_infer/build.sh"
step preprocess "$PY" "$ROOT/ascend310_infer/preprocess.py" --mel_path "$DATA_PATH" \
    --output_path "$OUT/preprocess_Result" --eval_length "$EVAL_LENGTH" --model_path "$MODEL_PATH"

# The Lite 2.0 runtime fetched by build.sh reads older MINDIR files only: give it a converted copy
# (the exported model itself stays the standard MINDIR).
RUN_MODEL=$MODEL_PATH
if grep -q '^lite-2\.0' "$ROOT/ascend310_infer/build/sdk_version" 2>/dev/null; then
    RUN_MODEL=$OUT/model_lite2.0.mindir
    step lite_compat "$PY" "$ROOT/ascend310_infer/lite_compat.py" "$MODEL_PATH" "$RUN_MODEL"
fi

rm -rf "$OUT/result_Files"
# (the app sends the runtime's own log lines to $OUT/time_Result/runtime.log)
step infer "$ROOT/ascend310_infer/build/melgan_infer" --mindir_path="$RUN_MODEL" \
    --input0_path="$OUT/preprocess_Result" --device_target="$DEVICE_TYPE" --device_id="$DEVICE_ID" \
    --output_path="$OUT/result_Files" --time_path="$OUT/time_Result"
step postprocess "$PY" "$ROOT/ascend310_infer/postprocess.py" --result_path "$OUT/result_Files" \
    --meta "$OUT/preprocess_Result/windows.json" --output_path "$OUT/wav"

cat "$OUT/preprocess.log" "$OUT/infer.log" "$OUT/postprocess.log"
