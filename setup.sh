#!/usr/bin/env bash
# One setup for users, developers and CI: system packages, then a virtualenv in ./.venv with the
# pinned Python packages. Safe to rerun; it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")"

need_apt=()
command -v espeak-ng >/dev/null 2>&1 || need_apt+=(espeak-ng)
command -v cmake >/dev/null 2>&1 || need_apt+=(cmake)
command -v g++ >/dev/null 2>&1 || need_apt+=(g++)
[ -f /usr/include/gflags/gflags.h ] || need_apt+=(libgflags-dev)
if [ "${MELGAN_BROWSER_TESTS:-0}" = 1 ] && ! command -v chromium >/dev/null 2>&1; then need_apt+=(chromium); fi  # tests/test_report_page.py
if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    echo "[setup] installing system packages: ${need_apt[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "[setup] creating virtualenv .venv"
    "$PY" -m venv .venv
fi
stamp=.venv/.requirements.sha
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "[setup] installing Python packages (requirements.txt)"
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
    # (pip warns about local index folders that do not exist on this machine kind: noise)
    .venv/bin/python -m pip install -q -r requirements.txt 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
    # librosa compiles its numba kernels (~20 s of CPU) in every process that imports it until one has
    # written them to its cache: compile them once here, not in each preprocess worker or test worker.
    echo "[setup] compiling librosa's numba kernels (once)"
    .venv/bin/python -c "import librosa.util.utils, librosa.core.pitch, librosa.core.audio"
    echo "$want" > "$stamp"
fi
echo "[setup] ready: $(.venv/bin/python -c 'import mindspore, numpy; print("mindspore", mindspore.__version__, "numpy", numpy.__version__)')"
