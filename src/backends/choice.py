"""`--backend auto` (the default): the fastest installed runtime that reproduces the checkpoint.

Every fp32 backend gives the checkpoint's output within 1e-4 (tests/test_backends.py), so the choice
is about speed only, and which is fastest depends on the CPU (on one AMD EPYC OpenVINO led, on an
Intel Xeon onnxruntime) and on the installed versions. So on the CPU it is measured: each installed
ONNX runtime runs one chunk of the generator (random weights: speed does not depend on them) a few times,
and the fastest median wins. The result is kept per machine in a small JSON file
($MELGAN_CACHE_DIR, else $XDG_CACHE_HOME/melgan-mindspore, else ~/.cache/melgan-mindspore), keyed by
the CPU, the runtime versions and the generator's shape, so the measurement (a few seconds) is paid
once. Rules without measuring: GPU and Ascend run MindSpore (the runtimes here are CPU builds); a
MINDIR runs in MindSpore only; bf16 is served by OpenVINO only; on the CPU, MindSpore runs only when
neither ONNX runtime is installed (it is not measured: every measurement put it ~2x behind both,
docs/backends.md, and its graph compiles made up 60 % of the measurement's time).
"""
import hashlib
import json
import os
import statistics
import time

from src import cpu_dispatch
from src.fileio import write_text

AUTO = "auto"
MEASURED = ("openvino", "onnxruntime")  # ties go to the first
CHUNK_FRAMES = 256  # what the Vocoder runs: 240-frame chunks with 8 frames of context each side
REPEATS = 5
# Part of the cache key: raise it when a backend's graph form or runtime options change, so that
# timings kept from before are measured again (2: 2-D convs + ConvTranspose, onnxruntime EXTENDED).
BACKENDS_REVISION = 2


def cache_dir():
    return os.environ.get("MELGAN_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "melgan-mindspore")


def installed(name):
    """Whether a runtime's package imports here (MindSpore always does)."""
    import importlib

    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


def _version(name):
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "?"


def choose(source_kind, device_target="CPU", precision="fp32", settings=None, measure=None):
    """(backend name, one line saying why) for `--backend auto`.

    measure: function(candidates, settings) -> {name: ms}; the real measurement by default."""
    from src.settings import ZOO_SETTINGS

    settings = settings or ZOO_SETTINGS
    if device_target != "CPU":
        return "mindspore", f"auto: {device_target} runs MindSpore graphs (the other runtimes here are CPU builds)"
    if source_kind == "mindir":
        return "mindspore", "auto: a MINDIR runs in MindSpore"
    if precision == "bf16":
        return "openvino", "auto: bf16 is served by OpenVINO only"
    candidates = [n for n in MEASURED if installed(n)]
    if not candidates:
        if source_kind == "onnx":
            return "onnxruntime", "auto: an .onnx file needs onnxruntime or openvino (neither is installed)"
        return "mindspore", "auto: mindspore is the only runtime installed (pip install onnxruntime or openvino " \
                            "for ~2x faster CPU inference)"
    if len(candidates) == 1:
        return candidates[0], f"auto: {candidates[0]} is the only ONNX runtime installed (faster on the CPU than " \
                              f"mindspore)"
    times, where = _measured(candidates, settings, measure or measure_backends)
    best = min(candidates, key=lambda n: (times[n], MEASURED.index(n)))
    listed = ", ".join(f"{n} {times[n]:.0f} ms" for n in sorted(candidates, key=times.get))
    return best, f"auto: fastest exact runtime on this CPU ({listed} per {CHUNK_FRAMES}-frame chunk; {where})"


def _measured(candidates, settings, measure):
    """{name: ms} from the cache, or measured now and cached."""
    model, flags = cpu_dispatch.cpu_info()
    key_text = json.dumps([BACKENDS_REVISION, model, sorted(flags or []), os.cpu_count(), settings.to_json(),
                           {n: _version(n) for n in candidates}, cpu_dispatch.startup_line()])
    key = hashlib.sha256(key_text.encode()).hexdigest()[:16]
    path = os.path.join(cache_dir(), f"backend-{key}.json")
    try:
        with open(path, encoding="utf-8") as f:
            times = json.load(f)["ms"]
        if set(candidates) <= set(times):
            return times, f"measured once, kept in {path}"
    except (OSError, ValueError, KeyError, TypeError):
        pass
    times = measure(candidates, settings)
    try:
        write_text(path, json.dumps({"cpu": model, "ms": times, "measured": time.strftime("%Y-%m-%d")}) + "\n")
        where = f"measured now, kept in {path}"
    except OSError:  # a read-only home: measure again next time rather than fail
        where = "measured now (the cache folder is not writable)"
    return times, where


def measure_backends(candidates, settings):
    """Median ms of one CHUNK_FRAMES chunk per runtime, on a random-weight generator of `settings`."""
    import numpy as np
    import mindspore as ms

    from src.backends import make_backend
    from src.model import Generator

    ms.set_seed(0)
    generator = Generator(arch=settings.arch())
    generator.set_train(False)
    generator.settings = settings
    mel = np.random.default_rng(0).uniform(-1, 1, (1, settings.features.n_mels, CHUNK_FRAMES)).astype(np.float32)
    backends = {name: make_backend(name, generator) for name in candidates}
    for backend in backends.values():
        backend(mel)  # compile
        backend(mel)  # (MindSpore compiles its per-shape graph at a shape's second call)
    runs = {name: [] for name in candidates}
    for _ in range(REPEATS):  # rounds alternate the runtimes: a busy moment of the machine hits them all
        for name, backend in backends.items():
            start = time.perf_counter()
            backend(mel)
            runs[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(r) for name, r in runs.items()}
