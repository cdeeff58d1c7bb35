"""Inference backends × precisions against PyTorch eager fp32, side by side in one run.

    python benchmarks/bench_backends.py [--frames 240] [--repeats 7] [--long 10,60] [--checkpoint CKPT]

Part 1, one window (1 × 80 × frames): PyTorch eager fp32 (the reference speed, uncapped oneDNN),
then every backend of src/backends at every precision this CPU serves (mindspore fp32,
onnxruntime fp32, openvino fp32, openvino bf16), each in its own worker process, called in turn
round after round: median ms, × real time, speed relative to PyTorch, max |diff| from the
checkpoint's plain Generator (and, for bf16, the SNR against it).
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
from src.features import ZOO  # noqa: E402

HOP, SR = ZOO.hop, ZOO.sample_rate
CONFIGS = (("mindspore", "fp32"), ("onnxruntime", "fp32"), ("openvino", "fp32"), ("openvino", "bf16"))


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
    import mindspore as ms

    ms.set_device("CPU")
    from src.backends import make_backend

    return make_backend(backend, ckpt, precision, threads=threads)


def window_worker(kind, ckpt, weights, mel_path, out_path, threads):
    """One backend (or PyTorch) serving timed windows (bench_inference.serve_window)."""
    mel = np.load(mel_path)
    if kind == "torch":
        run = _torch_generator(weights, threads)
    else:
        run = _backend(*kind.split(":"), ckpt, threads)
    serve_window(run, mel, out_path)


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
    """Per-op-type time of one window in onnxruntime and OpenVINO (f32, bf16): where the time goes."""
    from collections import defaultdict

    mel = np.load(mel_path)
    configs = _configs()
    for backend, precision in configs:
        if backend == "mindspore":
            continue
        run = _backend(backend, precision, ckpt, threads)
        totals = defaultdict(float)
        if backend == "openvino":
            run.config["PERF_COUNT"] = "YES"  # before the calls that compile
            run(mel)
            run(mel)  # the shape recurs: compiled for it, as chunks are
            request = next(iter(run.requests.values()))
            for _ in range(runs):
                request.infer({0: mel})
                for info in request.profiling_info:
                    totals[f"{info.node_type} [{info.exec_type}]"] += info.real_time.total_seconds() * 1000 / runs
        else:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.enable_profiling = True
            # beside the temp mel, not in the working directory (the repository when run from it)
            options.profile_file_prefix = os.path.join(os.path.dirname(os.path.abspath(mel_path)), "ort_profile")
            options.intra_op_num_threads = threads
            session = ort.InferenceSession(_onnx_bytes(ckpt), options, providers=["CPUExecutionProvider"])
            for _ in range(runs + 1):
                session.run(None, {"mel": mel})
            profile = session.end_profiling()
            with open(profile, encoding="utf-8") as f:
                events = json.load(f)
            os.remove(profile)
            node_events = [e for e in events if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")]
            node_events = node_events[len(node_events) // (runs + 1):]  # drop the first (warm-up) run
            for e in node_events:
                totals[e["args"]["op_name"]] += e["dur"] / 1000 / runs
        total = sum(totals.values())
        top = sorted(totals.items(), key=lambda kv: -kv[1])[:6]
        print(f"{_label(backend, precision)}: {total:.1f} ms in ops; " +
              ", ".join(f"{name} {ms:.1f} ms ({ms / total:.0%})" for name, ms in top))


def _onnx_bytes(ckpt):
    from src import onnx_graph
    from src.model import load_generator

    return onnx_graph.from_generator(load_generator(ckpt)).SerializeToString()


# ---------------------------------------------------------------- driver
def _spawn(args, env=None):
    return subprocess.Popen([sys.executable, os.path.abspath(__file__), *args], cwd=ROOT, text=True, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def bench_window(ckpt, weights, reference, mel_path, configs, repeats, threads, tmp):
    kinds = ["torch"] + [f"{b}:{p}" for b, p in configs]
    workers = {}
    for kind in kinds:  # started one at a time so compiles do not overlap
        workers[kind] = _spawn(["--worker", kind, "--checkpoint", ckpt, "--weights", weights, "--mel", mel_path,
                                "--out", os.path.join(tmp, kind + ".npy"), "--threads", str(threads)],
                               env=cpu_dispatch.peer_environ() if kind == "torch" else None)
        _read_result(workers[kind], "READY")
    times, cpu_times = alternate_rounds(workers, repeats)
    frames = np.load(mel_path).shape[2]
    audio_s = frames * HOP / SR
    med = {k: statistics.median(v) for k, v in times.items()}
    cpu = {k: statistics.median(v) for k, v in cpu_times.items()}
    print(f"\none window, 1 x 80 x {frames} frames ({audio_s:.2f} s of audio), {repeats} alternating rounds, "
          f"{threads} threads, medians:")
    print(f"{'implementation':<22}{'ms':>8}{'x real time':>13}{'x PyTorch':>11}{'CPU ms':>9}{'by CPU':>8}"
          f"{'max |diff|':>12}{'SNR dB':>8}")
    for kind in kinds:
        out = np.load(os.path.join(tmp, kind + ".npy")).ravel()
        name = "pytorch eager fp32" if kind == "torch" else _label(*kind.split(":"))
        print(f"{name:<22}{med[kind]:>8.1f}{audio_s / (med[kind] / 1000):>13.1f}{med['torch'] / med[kind]:>11.2f}"
              f"{cpu[kind]:>9.1f}{cpu['torch'] / cpu[kind]:>8.2f}{np.abs(out - reference).max():>12.2e}{metrics.snr_db(reference, out):>8.1f}")
    print("(x PyTorch: PyTorch eager fp32's median wall time / this one's; CPU ms: the worker's CPU time per call, "
          "all threads, and 'by CPU' the same ratio on it, less sensitive to other processes taking the cores; "
          "max |diff| and SNR against the checkpoint's plain MindSpore Generator)")
    return med


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
    parser.add_argument("--profile", action="store_true", help="also time one window per op type (ORT, OpenVINO)")
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
    ms.set_device("CPU")
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
        window = ((rng.normal(-5, 2, (80, args.frames)).astype(np.float32) + 5) / 5)[None]
        mel_path = os.path.join(tmp, "window.npy")
        np.save(mel_path, window)
        reference = g(ms.Tensor(window)).asnumpy().ravel()
        bench_window(ckpt, weights, reference, mel_path, configs, args.repeats, args.threads, tmp)
        if args.profile:
            print("\nper op type, one window (summed kernel times; the runtimes' own profilers):", flush=True)
            subprocess.run([sys.executable, os.path.abspath(__file__), "--profile_worker", "--checkpoint", ckpt,
                            "--mel", mel_path, "--threads", str(args.threads)], cwd=ROOT, check=True,
                           stderr=subprocess.DEVNULL)
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
