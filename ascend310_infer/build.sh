#!/usr/bin/env bash
# Build the C++ inference app: ascend310_infer/build/melgan_infer.
#
# The MindSpore C++ SDK comes from $MINDSPORE_PATH when set (a folder with include/api and lib:
# a MindSpore Lite package, or the `mindspore` folder of an Ascend/GPU MindSpore install).
# Otherwise the MindSpore Lite 2.0 C++ SDK is taken from its PyPI wheel (used as an archive, not
# installed), fetched once into third_party/ (gitignored) and reused by later builds.
# Safe to rerun and to run concurrently; rebuilds only what changed.
set -euo pipefail
cd "$(dirname "$0")"
HERE=$(pwd)

LITE_VERSION=2.0.0
LITE_WHEEL=mindspore_lite-${LITE_VERSION}-cp37-cp37m-manylinux1_x86_64.whl
LITE_SHA256=199cd0605cc985b88eddb273db9dfe9000a585ba10ca2292b6b36ebfff07b3ec
SDK_DIR=$HERE/third_party/mindspore_lite-$LITE_VERSION
# The C++ API library, the libraries it links, and two plugins it opens at run time.
LITE_LIBS="libmindspore-extendrt_python.so libmindspore_converter.so libmslite_converter_plugin.so
libmindspore_core.so libmindspore_glog.so.0 libdnnl.so.2 libopencv_core.so.4.5 libopencv_imgcodecs.so.4.5
libopencv_imgproc.so.4.5 libmsplugin-ge-litert_python.so libruntime_convert_plugin_python.so"

log() { echo "[ascend310_infer/build.sh] $*" >&2; }

python_bin() {
    if [ -n "${PYTHON:-}" ]; then echo "$PYTHON"
    elif [ -x "$HERE/../.venv/bin/python" ]; then echo "$HERE/../.venv/bin/python"
    else echo python3; fi
}

fetch_lite_sdk() {
    [ -f "$SDK_DIR/.complete" ] && return 0
    mkdir -p third_party
    exec 9>third_party/.fetch.lock
    flock 9  # another build may be fetching: wait for it, then reuse its result
    [ -f "$SDK_DIR/.complete" ] && return 0
    local dl=third_party/download
    mkdir -p "$dl"
    if [ ! -f "$dl/$LITE_WHEEL" ] || ! echo "$LITE_SHA256  $dl/$LITE_WHEEL" | sha256sum -c --quiet - 2>/dev/null; then
        rm -f "$dl/$LITE_WHEEL"
        log "fetching the MindSpore Lite $LITE_VERSION C++ SDK (168 MB wheel from PyPI, once)"
        local attempt
        for attempt in 1 2 3; do
            if "$(python_bin)" -m pip download -q --no-deps --only-binary=:all: --python-version 3.7 \
                --platform manylinux1_x86_64 --retries 5 --timeout 60 -d "$dl" "mindspore-lite==$LITE_VERSION" \
                2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); then
                break
            fi
            [ "$attempt" = 3 ] && { log "error: could not download mindspore-lite==$LITE_VERSION from PyPI"; exit 1; }
            sleep $((attempt * 5))
        done
        if ! echo "$LITE_SHA256  $dl/$LITE_WHEEL" | sha256sum -c --quiet -; then
            rm -f "$dl/$LITE_WHEEL"
            log "error: $dl/$LITE_WHEEL: checksum mismatch (download damaged), removed; rerun"
            exit 1
        fi
    fi
    local tmp="$SDK_DIR.tmp.$$"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    local members=("mindspore_lite/include/*" "mindspore_lite/version.py")
    local lib
    for lib in $LITE_LIBS; do members+=("mindspore_lite/lib/$lib"); done
    "$(python_bin)" - "$dl/$LITE_WHEEL" "$tmp" "${members[@]}" <<'PY'
import fnmatch, sys, zipfile
wheel, dest, patterns = sys.argv[1], sys.argv[2], sys.argv[3:]
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if any(fnmatch.fnmatch(n, p) for p in patterns)]
    missing = [p for p in patterns if "*" not in p and p not in names]
    if missing:
        sys.exit(f"error: {wheel}: missing {missing}")
    z.extractall(dest, names)
PY
    rm -rf "$SDK_DIR"
    mv "$tmp/mindspore_lite" "$SDK_DIR"
    rm -rf "$tmp"
    touch "$SDK_DIR/.complete"
    rm -f "$dl/$LITE_WHEEL"  # the extracted SDK is the cache
    log "MindSpore Lite SDK ready: $SDK_DIR"
}

if [ -n "${MINDSPORE_PATH:-}" ]; then
    if [ ! -d "$MINDSPORE_PATH/include/api" ]; then
        log "error: $MINDSPORE_PATH: no include/api (not a MindSpore C++ SDK)"
        exit 1
    fi
    SDK=$MINDSPORE_PATH
else
    fetch_lite_sdk
    SDK=$SDK_DIR
fi

mkdir -p build
exec 8>build/.build.lock
flock 8  # one build at a time in this folder
cmake -S . -B build -DMINDSPORE_PATH="$SDK" -DCMAKE_BUILD_TYPE=Release >build/cmake.log 2>&1 \
    || { tail -n 30 build/cmake.log >&2; log "error: cmake configuration failed (build/cmake.log)"; exit 1; }
cmake --build build -j "$(nproc)" >build/make.log 2>&1 \
    || { tail -n 30 build/make.log >&2; log "error: compilation failed (build/make.log)"; exit 1; }
# What run_infer_cpp.sh needs to know about the runtime (the Lite 2.0 runtime needs lite_compat.py).
if [ -f "$SDK/version.py" ]; then
    sed -n "s/^__version__ = '\(.*\)'/lite-\1/p" "$SDK/version.py" > build/sdk_version
else
    echo "mindspore" > build/sdk_version
fi
log "built $HERE/build/melgan_infer against $SDK ($(cat build/sdk_version))"
