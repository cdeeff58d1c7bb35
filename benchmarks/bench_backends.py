"""Inference backends × precisions against PyTorch eager fp32, side by side in one run.

    python benchmarks/bench_backends.py [--frames 240] [--repeats 7] [--long 10,60] [--checkpoint CKPT]

Part 1, one window (1 × 80 × frames): PyTorch eager fp32 (the reference speed, uncapped oneDNN),
then every backend of src/backends at every precision this CPU serves (mindspore fp32,
onnxruntime fp32, openvino fp32, openvino bf16), each in its own worker process, called in turn
round after round: median ms, × real time, speed relative to PyTorch, max |diff| from the
checkpoint's plain Generator (and, for bf16, the SNR against it). In the same rounds, the GEMM
ceiling: every convolution of the window (src/architecture.py) as one GEMM of exactly its FLOPs,
timed in its own worker with the same thread count: fp32 in NumPy's BLAS (sgemm), bf16 in oneDNN's
matmul through PyTorch (NumPy's BLAS has no bf16 GEMM), and a large square sgemm for reference;
each backend's share of its precision's ceiling is ceiling ms / its ms.
--profile: each layer's time in onnxruntime and OpenVINO (their own profilers) against its FLOPs
and the GEMM ceiling's rate on that layer's shape, and the non-convolution ops' time by type.
Part 2, long inputs (10 s, 60 s): whole-utterance synthesis (exact chunks) and streaming (10 frames
pushed at a time) through the Vocoder API, a fresh process per backend × mode × length: seconds,
× real time, peak RSS, its growth over the loaded model, and max |diff| from the plain Generator.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from src import cpu_dispatch, metrics  # noqa: E402  (fixes oneDNN's dispatch before MindSpore runs a kernel)
from benchmarks.bench_inference import (  # noqa: E402
    _read_result, _torch_generator, alternate_rounds, bench_parser, random_log_mel, serve_window)
from src.architecture import GENERATOR  # noqa: E402
from src.features import ZOO  # noqa: E402

HOP, SR = ZOO.hop, ZOO.sample_rate
CONFIGS = (("mindspore", "fp32"), ("onnxruntime", "fp32"), ("openvino", "fp32"), ("openvino", "bf16"))
SQUARE = 2048  # the reference sgemm's M = K = N: large enough for BLAS's best rate, ~0.1 s on 2 cores


def _configs():
    """The backend × precision pairs this CPU serves (bf16 only where it is native)."""
    supported, reason = cpu_dispatch.bf16_support()
    if not supported:
        print(f"bf16 left out: {reason}")
    return [c for c in CONFIGS if c[1] == "fp32" or supported]


def _label(backend, precision):
    return f"{backend} {precision}"


# ---------------------------------------------------------------- workers (one process each)
def _backend(backend, precision, ckpt, threads):
    cpu_dispatch.set_device("CPU")
    from src.backends import make_backend

    return make_backend(backend, ckpt, precision, threads=threads)


def window_worker(kind, ckpt, weights, mel_path, out_path, threads):
    """One backend (or PyTorch) serving timed windows (bench_inference.serve_window)."""
    if kind.startswith(("gemm", "square")):
        return gemm_worker(kind, np.load(mel_path, mmap_mode="r").shape[2], out_path, threads)
    mel = np.load(mel_path)
    if kind == "torch":
        run = _torch_generator(weights, threads)
    else:
        run = _backend(*kind.split(":"), ckpt, threads)
    serve_window(run, mel, out_path)


def window_layers(frames, arch=GENERATOR):
    """[(checkpoint prefix, M, K, N)]: each convolution of a `frames`-frame window as one GEMM of exactly
    its FLOPs (2·M·K·N): a conv is W (out × in·kernel) times its im2col columns (in·kernel × length);
    a transposed conv is Wᵀ (out·kernel × in) times its input (in × length), then an overlap-add."""
    layers = [(arch.first_conv, arch.channels, arch.mel_channels * arch.in_kernel, frames)]
    length = frames
    for i, c_in, c_out, up in arch.stages():
        layers.append((arch.upsampler_name(i), c_out * up.kernel, c_in, length))
        length *= up.stride
        for j in range(1, len(arch.dilations) + 1):
            dilated, out, shortcut = arch.block_names(i, j)
            layers += [(dilated, c_out, c_out * arch.res_kernel, length), (out, c_out, c_out, length),
                       (shortcut, c_out, c_out, length)]
    return layers + [(arch.last_conv, 1, arch.last_channels * arch.out_kernel, length)]


def layer_flops(frames):
    return {name: 2 * m * k * n for name, m, k, n in window_layers(frames)}


def gemm_worker(kind, frames, out_path, threads):
    """The GEMM ceiling as a timed worker: `gemm:fp32` (NumPy sgemm) or `gemm:bf16` (oneDNN bf16 matmul
    through PyTorch) on every layer's shape, each in the faster of its two orientations (W·X, or Xᵀ·Wᵀ as
    a channels-last runtime computes it); or `square:fp32`, one SQUARE³ sgemm. Threads: OPENBLAS_NUM_THREADS
    set by the driver / torch.set_num_threads. Saves the per-layer medians (ms) when it ends."""
    shapes = [(SQUARE, SQUARE, SQUARE)] if kind.startswith("square") else [s[1:] for s in window_layers(frames)]
    rng = np.random.default_rng(0)
    if kind.endswith("bf16"):
        import torch

        torch.set_num_threads(threads)
        matmul = lambda a, b, out: torch.matmul(a, b, out=out)  # noqa: E731
        array = lambda *shape: torch.from_numpy(rng.standard_normal(shape, np.float32)).to(torch.bfloat16)  # noqa: E731
        empty = lambda *shape: torch.empty(shape, dtype=torch.bfloat16)  # noqa: E731
    else:
        matmul = lambda a, b, out: np.matmul(a, b, out=out)  # noqa: E731
        array = lambda *shape: rng.standard_normal(shape, np.float32)  # noqa: E731
        empty = lambda *shape: np.empty(shape, np.float32)  # noqa: E731

    def timed(operands):
        start = time.perf_counter()
        matmul(*operands)
        return (time.perf_counter() - start) * 1000

    chosen = []
    for m, k, n in shapes:
        both = [(array(m, k), array(k, n), empty(m, n)), (array(n, k), array(k, m), empty(n, m))]
        for operands in both:
            timed(operands)  # warm-up
        chosen.append(min(both, key=lambda ops: statistics.median(timed(ops) for _ in range(3))))
    runs = []

    def run(_mel):
        runs.append([timed(operands) for operands in chosen])
        return np.zeros(1, np.float32)

    timed = serve_window(run, None, out_path)
    np.save(out_path, np.median(np.array(runs)[np.array(timed) - 1], axis=0))


def long_worker(kind, mode, ckpt, mel_path, out_path, chunk_frames, threads):
    from src.inference import Vocoder

    mel = np.load(mel_path)
    frames = mel.shape[1]
    vocoder = Vocoder(_backend(*kind.split(":"), ckpt, threads), chunk_frames=chunk_frames)

    def synthesize():
        if mode == "stream":
            stream = vocoder.stream()
            return np.concatenate([stream.push(mel[:, i:i + 10]) for i in range(0, frames, 10)] + [stream.flush()])
        return vocoder(mel)

    base = _reset_peak_rss()  # model loaded, nothing run; loading's own peak is not synthesis's
    synthesize()  # the first run compiles; time the second (steady state)
    start = time.perf_counter()
    audio = synthesize()
    elapsed = time.perf_counter() - start
    peak = _status_mb("VmHWM")
    assert audio.shape == (frames * HOP,)
    np.save(out_path, audio)
    print("RESULT " + json.dumps({"seconds": elapsed, "peak_mb": peak, "before_mb": base}), flush=True)


def _status_mb(key):
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/self/status has no {key}")


def _reset_peak_rss():
    """Reset the process's peak RSS (VmHWM) to its current RSS (Linux >= 4.0) and return that."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
        f.write("5")
    return _status_mb("VmRSS")


def profile_worker(ckpt, mel_path, threads, runs=3):
    """Each node's time in one window (mean of `runs` calls after a warm-up) in onnxruntime and OpenVINO
    (f32, bf16), from the runtimes' own profilers: RESULT {label: {"layers": {checkpoint prefix: ms},
    "ops": {other op type: ms}}}. A node belongs to the layer whose parameters it reads (src/onnx_graph.py
    names them by checkpoint name), so what a runtime fused into a conv (bias, activation, the residual
    Add) counts as the conv's time, whatever the runtime named the fused node."""
    from collections import defaultdict

    mel = np.load(mel_path)
    names = set(layer_flops(mel.shape[2]))
    folder = os.path.dirname(os.path.abspath(mel_path))  # not the working directory (the repository)
    result = {}
    for backend, precision in _configs():
        if backend == "mindspore":
            continue
        layers, ops = defaultdict(float), defaultdict(float)
        if backend == "openvino":
            run = _backend(backend, precision, ckpt, threads)
            run.config["PERF_COUNT"] = "YES"  # before the calls that compile
            run(mel)
            run(mel)  # the shape recurs: compiled for it, as chunks are
            request = next(iter(run.requests.values()))
            owner = _owners(((op.get_friendly_name(), [op.input_value(i).get_node().get_friendly_name()
                                                       for i in range(op.get_input_size())])
                             for op in request.get_compiled_model().get_runtime_model().get_ordered_ops()), names)
            events = []
            for _ in range(runs):
                request.infer({0: mel})
                events += [(info.node_name, info.node_type, info.real_time.total_seconds() * 1000)
                           for info in request.profiling_info]
        else:
            import onnx
            import onnxruntime as ort

            from src.backends.onnxruntime_backend import OnnxRuntimeBackend

            options = OnnxRuntimeBackend.session_options(threads)
            options.enable_profiling = True
            options.profile_file_prefix = os.path.join(folder, "ort_profile")
            options.optimized_model_filepath = os.path.join(folder, "ort_optimized.onnx")  # its nodes' inputs
            session = ort.InferenceSession(_onnx_bytes(ckpt), options, providers=["CPUExecutionProvider"])
            owner = _owners(((n.name, n.input) for n in onnx.load(options.optimized_model_filepath).graph.node), names)
            for _ in range(runs + 1):
                session.run(None, {"mel": mel})
            profile = session.end_profiling()
            with open(profile, encoding="utf-8") as f:
                node_events = [e for e in json.load(f) if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")]
            os.remove(profile)
            events = [(e["name"][:-len("_kernel_time")], e["args"]["op_name"], e["dur"] / 1000)
                      for e in node_events[len(node_events) // (runs + 1):]]  # after the first (warm-up) run
        for node, op_type, ms in events:
            if node in owner:
                layers[owner[node]] += ms / runs
            else:
                ops[op_type] += ms / runs
        result[_label(backend, precision)] = {"layers": layers, "ops": ops}
    print("RESULT " + json.dumps(result), flush=True)


def _owners(nodes, layer_names):
    """{node: the checkpoint prefix of the layer whose `prefix.weight` or `prefix.bias` it reads, or whose
    name it carries (onnxruntime's `prefix_nchwc`, once it has reordered the parameters)} from (node name,
    input names) pairs."""
    owner = {}
    for node, inputs in nodes:
        for name in inputs:
            prefix, _, kind = name.rpartition(".")
            if kind in ("weight", "bias") and prefix in layer_names:
                owner[node] = prefix
        if node not in owner:
            owner.update((node, layer) for layer in layer_names if node.split("_nchwc")[0] == layer)
    return owner


def print_profile(profile, frames, ceiling_layers):
    """Per layer: each runtime's ms, GFLOP/s and share of its total, beside the GEMM ceiling's rate on
    that layer's shape (ceiling_layers: {precision: [ms per layer]}); then the other ops by type."""
    flops = layer_flops(frames)
    labels = list(profile)
    totals = {k: sum(p["layers"].values()) + sum(p["ops"].values()) for k, p in profile.items()}
    rate = lambda name, ms: flops[name] / ms / 1e6 if ms else float("nan")  # noqa: E731  (GFLOP/s)
    print(f"{'':<22}{'':>7}" + "".join(f"{'GEMM ' + p:>11}" for p in ceiling_layers) +
          "".join(f" | {label:^22}" for label in labels))  # 22 = the ms, GFLOP/s and % columns
    print(f"{'layer':<22}{'GFLOP':>7}" + f"{'GFLOP/s':>11}" * len(ceiling_layers) +
          f" | {'ms':>6}{'GFLOP/s':>9}{'%':>7}" * len(labels))
    for i, name in enumerate(flops):
        cells = "".join(f"{rate(name, ms[i]):>11.0f}" for ms in ceiling_layers.values())
        for label in labels:
            ms = profile[label]["layers"].get(name, 0.0)
            cells += f" | {ms:>6.1f}{rate(name, ms):>9.0f}{ms / totals[label]:>7.1%}"
        print(f"{name[:21]:<22}{flops[name] / 1e9:>7.3f}{cells}")
    for op in sorted({op for p in profile.values() for op, ms in p["ops"].items() if ms >= 0.05}):
        cells = "".join(f" | {p['ops'].get(op, 0.0):>6.1f}{'':>9}{p['ops'].get(op, 0.0) / totals[k]:>7.1%}"
                        for k, p in profile.items())
        print(f"{op[:21]:<22}{'':>7}{'':>11}" + " " * 11 * (len(ceiling_layers) - 1) + cells)
    window = sum(flops.values())
    conv = {k: sum(p["layers"].values()) for k, p in profile.items()}
    for what, ms_of in (("convolutions", conv), ("total", totals)):
        cells = "".join(f"{window / 1e9 / (sum(ms) / 1000):>11.0f}" for ms in ceiling_layers.values())
        cells += "".join(f" | {ms_of[k]:>6.1f}{window / ms_of[k] / 1e6:>9.0f}{ms_of[k] / totals[k]:>7.1%}"
                         for k in labels)
        print(f"{what:<22}{window / 1e9:>7.2f}{cells}")


def _onnx_bytes(ckpt):
    from src import onnx_graph
    from src.model import load_generator

    return onnx_graph.from_generator(load_generator(ckpt)).SerializeToString()


# ---------------------------------------------------------------- driver
def speech_window(frames, folder):
    """The first `frames` frames of espeak-ng sentences spoken one after another, as the normalized
    log-mel (n_mels, frames) the generator takes."""
    from src.audio import read_audio
    from src.demo_corpus import make_demo_corpus
    from src.features import normalize_mel

    make_demo_corpus(folder, num_utterances=frames // 100 + 1)  # a sentence is 2-3 s: 170-260 frames
    wavs = sorted(os.listdir(os.path.join(folder, "wavs")))
    mel = np.concatenate([ZOO.log_mel(read_audio(os.path.join(folder, "wavs", w))[0]) for w in wavs], axis=1)
    return normalize_mel(mel[:, :frames]).astype(np.float32)


def _spawn(args, env=None):
    return subprocess.Popen([sys.executable, os.path.abspath(__file__), *args], cwd=ROOT, text=True, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def _worker_env(kind, threads):
    """PyTorch (the peer, and the bf16 GEMM) runs uncapped: the project's oneDNN cap is MindSpore's fix,
    not theirs; NumPy's BLAS gets the backends' thread count."""
    if kind == "torch" or kind == "gemm:bf16":
        return cpu_dispatch.peer_environ()
    if kind.startswith(("gemm", "square")):
        return dict(os.environ, OPENBLAS_NUM_THREADS=str(threads))
    return None


def bench_window(ckpt, weights, reference, mel_path, configs, repeats, threads, tmp, warm=False):
    """The window table; returns the GEMM ceiling's per-layer medians {precision: [ms]}."""
    ceilings = ["gemm:fp32", "square:fp32"] + (["gemm:bf16"] if any(p == "bf16" for _, p in configs) else [])
    kinds = ["torch"] + ceilings + [f"{b}:{p}" for b, p in configs]
    workers = {}
    for kind in kinds:  # started one at a time so compiles do not overlap
        workers[kind] = _spawn(["--worker", kind, "--checkpoint", ckpt, "--weights", weights, "--mel", mel_path,
                                "--out", os.path.join(tmp, kind + ".npy"), "--threads", str(threads)],
                               env=_worker_env(kind, threads))
        _read_result(workers[kind], "READY")
    times, cpu_times = alternate_rounds(workers, repeats, warm)
    frames = np.load(mel_path).shape[2]
    audio_s = frames * HOP / SR
    flops = sum(layer_flops(frames).values())
    med = {k: statistics.median(v) for k, v in times.items()}
    cpu = {k: statistics.median(v) for k, v in cpu_times.items()}
    med["square:fp32"] *= flops / (2 * SQUARE ** 3)  # the window's FLOPs at the square sgemm's rate
    cpu["square:fp32"] *= flops / (2 * SQUARE ** 3)
    import torch

    print(f"\none window, 1 x 80 x {frames} frames ({audio_s:.2f} s of audio, {flops / 1e9:.2f} GFLOP in "
          f"{len(layer_flops(frames))} convolutions), {repeats} alternating rounds, {threads} threads"
          f"{', each timed call after an untimed one (warm)' if warm else ''}, medians:")
    print(f"{'implementation':<30}{'ms':>8}{'GFLOP/s':>9}{'x real time':>13}{'x PyTorch':>11}{'of GEMM':>9}"
          f"{'of sq.':>8}{'CPU ms':>9}{'by CPU':>8}{'max |diff|':>12}{'SNR dB':>8}")
    names = {"torch": "pytorch eager fp32", "gemm:fp32": "GEMM ceiling fp32 (sgemm)",
             "square:fp32": f"sgemm {SQUARE}^3, window FLOPs", "gemm:bf16": "GEMM ceiling bf16 (oneDNN)"}
    for kind in kinds:
        precision = kind.split(":")[-1] if ":" in kind else "fp32"
        row = (f"{names.get(kind) or _label(*kind.split(':')):<30}{med[kind]:>8.1f}{flops / med[kind] / 1e6:>9.0f}"
               f"{audio_s / (med[kind] / 1000):>13.1f}{med['torch'] / med[kind]:>11.2f}")
        if kind in ceilings:
            print(row + f"{'':>17}{cpu[kind]:>9.1f}{cpu['torch'] / cpu[kind]:>8.2f}")
            continue
        share = f"{med['gemm:' + precision] / med[kind]:>9.0%}" if "gemm:" + precision in med else f"{'':>9}"
        square = f"{med['square:fp32'] / med[kind]:>8.0%}" if precision == "fp32" else f"{'':>8}"
        out = np.load(os.path.join(tmp, kind + ".npy")).ravel()
        print(row + share + square + f"{cpu[kind]:>9.1f}{cpu['torch'] / cpu[kind]:>8.2f}"
              f"{np.abs(out - reference).max():>12.2e}{metrics.snr_db(reference, out):>8.1f}")
    print(f"(x PyTorch: PyTorch eager fp32's median wall time / this one's; GEMM ceiling: each convolution of "
          f"the window (src/architecture.py) as one GEMM of its FLOPs, in the faster of its two orientations, "
          f"{threads} threads: fp32 NumPy {np.__version__} sgemm ({_blas()}), bf16 oneDNN matmul in PyTorch "
          f"{torch.__version__}; of GEMM: that ceiling's ms / this one's, of sq.: the same at the {SQUARE}^3 "
          f"sgemm's rate; CPU ms: the worker's CPU time per call, all threads, and 'by CPU' the same ratio on "
          f"it, less sensitive to other processes taking the cores; max |diff| and SNR against the checkpoint's "
          f"plain MindSpore Generator)")
    return {kind.split(":")[1]: np.load(os.path.join(tmp, kind + ".npy")) for kind in ceilings
            if kind.startswith("gemm")}


def _blas():
    """NumPy's BLAS library and version, as its build config names them."""
    blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()


def bench_long(ckpt, references, configs, chunk_frames, threads, tmp):
    print(f"\nlong inputs (chunk_frames={chunk_frames} + 8 context frames each side; stream: 10 frames per push), "
          "fresh process each, second run timed:")
    print(f"{'input':>6}  {'backend':<18}{'mode':<8}{'seconds':>9}{'x real time':>13}{'peak RSS MB':>13}"
          f"{'growth MB':>11}{'max |diff|':>12}")
    for seconds, (mel_path, reference) in references.items():
        for backend, precision in configs:
            for mode in ("whole", "stream"):
                out = os.path.join(tmp, f"long_{backend}_{precision}_{mode}_{seconds}.npy")
                proc = _spawn(["--long_worker", f"{backend}:{precision}", "--mode", mode, "--checkpoint", ckpt,
                               "--mel", mel_path, "--out", out, "--chunk_frames", str(chunk_frames),
                               "--threads", str(threads)])
                result = json.loads(_read_result(proc))
                proc.wait()
                diff = np.abs(np.load(out) - reference).max()
                print(f"{seconds:>5g}s  {_label(backend, precision):<18}{mode:<8}{result['seconds']:>9.2f}"
                      f"{seconds / result['seconds']:>13.1f}{result['peak_mb']:>13.0f}"
                      f"{result['peak_mb'] - result['before_mb']:>11.0f}{diff:>12.2e}")
    print("(peak RSS: the process's peak while synthesizing, counted from the loaded model's RSS (VmHWM reset); "
          "growth: that peak minus the loaded model's RSS, compiling the chunk's shape included)")


def main():
    parser = bench_parser(__doc__, repeats=7)
    parser.add_argument("--profile", action="store_true",
                        help="also time each layer of one window in onnxruntime and OpenVINO against the GEMM ceiling")
    parser.add_argument("--speech", action="store_true",
                        help="the window is espeak-ng speech, not a random log-mel (the SNR column then says what "
                             "bf16 does to speech through --checkpoint)")
    parser.add_argument("--mode", default="whole", help=argparse.SUPPRESS)
    parser.add_argument("--profile_worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.profile_worker:
        return profile_worker(args.checkpoint, args.mel, args.threads)
    if args.worker:
        return window_worker(args.worker, args.checkpoint, args.weights, args.mel, args.out, args.threads)
    if args.long_worker:
        return long_worker(args.long_worker, args.mode, args.checkpoint, args.mel, args.out, args.chunk_frames,
                           args.threads)

    import mindspore as ms

    from src.checkpoint import save_checkpoint
    from src.inference import Vocoder
    from src.model import Generator, load_generator

    print(cpu_dispatch.header())
    cpu_dispatch.set_device("CPU")
    with tempfile.TemporaryDirectory() as tmp:
        if args.checkpoint:
            ckpt = os.path.abspath(args.checkpoint)
        else:
            ms.set_seed(0)
            ckpt = os.path.join(tmp, "random.ckpt")
            save_checkpoint(Generator(0.2), ckpt)
        g = load_generator(ckpt)
        weights = os.path.join(tmp, "weights.npz")
        np.savez(weights, **{p.name: p.asnumpy() for p in g.get_parameters()})
        import onnxruntime
        import openvino
        import torch

        print(f"mindspore {ms.__version__}, onnxruntime {onnxruntime.__version__}, openvino "
              f"{openvino.__version__.split('-')[0]}, torch {torch.__version__}; weights: "
              f"{args.checkpoint or 'random init (seed 0)'}; load average {os.getloadavg()[0]:.2f} "
              "(other processes inflate absolute times; compare within a run)")
        configs = _configs()
        rng = np.random.default_rng(0)
        if args.speech:
            window = speech_window(args.frames, os.path.join(tmp, "speech"))[None]
            print(f"window: espeak-ng speech (src/demo_corpus.py), {args.frames} frames of log-mel (SPEC front end)")
        else:
            window = ((rng.normal(-5, 2, (80, args.frames)).astype(np.float32) + 5) / 5)[None]
        mel_path = os.path.join(tmp, "window.npy")
        np.save(mel_path, window)
        reference = g(ms.Tensor(window)).asnumpy().ravel()
        ceiling_layers = bench_window(ckpt, weights, reference, mel_path, configs, args.repeats, args.threads, tmp,
                                      args.warm)
        if args.profile:
            proc = _spawn(["--profile_worker", "--checkpoint", ckpt, "--mel", mel_path, "--threads", str(args.threads)])
            profile = json.loads(_read_result(proc))
            proc.wait()
            print(f"\nper layer, one window, {args.threads} threads: the runtimes' own profilers (mean of 3 calls; "
                  "what a runtime fused into a conv counts as the conv's); GFLOP/s: the layer's FLOPs "
                  "(src/architecture.py) / its time; GEMM: the ceiling's median on the layer's shape:")
            print_profile(profile, args.frames, ceiling_layers)
        references = {}
        for seconds in [float(s) for s in args.long.split(",") if s]:
            mel = random_log_mel(rng, (80, int(seconds * SR) // HOP))
            path = os.path.join(tmp, f"long_{seconds:g}.npy")
            np.save(path, mel)
            # exact chunks of the plain Generator = its one pass (tests/test_inference.py)
            references[seconds] = (path, Vocoder(g, fast=False, chunk_frames=args.chunk_frames)(mel))
        if references:
            bench_long(ckpt, references, configs, args.chunk_frames, args.threads, tmp)


if __name__ == "__main__":
    main()
