"""Inference speed and memory, measured side by side in one run.

    python benchmarks/bench_inference.py [--frames 240] [--repeats 9] [--long 10,60] [--checkpoint CKPT]

Part 1, one fixed window (1 × 80 × frames): the plain generator (src.model.Generator, graph
compiled), the fast path (src.fast_generator.FastGenerator) and, when torch is importable, PyTorch
eager of the same network and weights (benchmarks/torch_peers.py, built from src.architecture).
Each runs in its own worker process (so no thread pool spins against another) and the workers are
called in turn, round after round; the table gives medians, ratios and × real time, and the
outputs' max difference from the plain generator.
Part 2, long inputs (10 s, 60 s): whole-utterance synthesis through the Vocoder API in exact
chunks, streaming (mel pushed 10 frames at a time), and one unchunked pass for comparison, each
in a fresh process: seconds, × real time and peak resident memory.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from src import cpu_dispatch  # noqa: E402  (fixes oneDNN's dispatch before MindSpore runs a kernel)
from src.features import ZOO  # noqa: E402

HOP, SR = ZOO.hop, ZOO.sample_rate


# ---------------------------------------------------------------- workers (one process each)
def _ms_setup():
    import mindspore as ms

    cpu_dispatch.set_device("CPU")
    return ms


def _load_generator(weights):
    from src.model import Generator

    ms = _ms_setup()
    g = Generator(0.2)
    params = dict(np.load(weights))
    ms.load_param_into_net(g, {k: ms.Parameter(ms.Tensor(v), name=k) for k, v in params.items()})
    g.set_train(False)
    return g


def _torch_generator(weights, threads):
    """The generator in PyTorch eager with these weights (benchmarks/torch_peers.py, built from
    src.architecture; benchmark reference only: torch is optional)."""
    from benchmarks.torch_peers import inference_runner  # pylint: disable=import-outside-toplevel

    return inference_runner(weights, threads)


def window_worker(kind, weights, mel_path, out_path, threads):
    """Serve timed runs: one line 'run' on stdin -> 'RESULT <ms>' on stdout; 'quit' ends."""
    mel = np.load(mel_path)
    if kind == "torch":
        run = _torch_generator(weights, threads)
    else:
        ms = _ms_setup()
        from src.fast_generator import FastGenerator

        g = _load_generator(weights)
        net = ms.jit(FastGenerator.from_generator(g) if kind == "mindspore_fast" else g)
        run = lambda x: net(ms.Tensor(x)).asnumpy()  # noqa: E731
    serve_window(run, mel, out_path)


def serve_window(run, mel, out_path):
    """A window worker's loop: save run(mel), warm up, then 'run' on stdin -> 'RESULT <wall ms> <cpu ms>'
    ('warm': the same after one untimed call); anything else ends. Returns which calls of `run` (from 1)
    were timed."""
    np.save(out_path, run(mel))
    run(mel)  # warm-up (graph compile, oneDNN primitive caches)
    calls, timed = 2, []
    print("READY", flush=True)
    for line in sys.stdin:
        if line.strip() not in ("run", "warm"):
            break
        if line.strip() == "warm":  # caches hold this network's weights, as when chunks follow each other
            run(mel)
            calls += 1
        start, cpu = time.perf_counter(), time.process_time()
        run(mel)
        calls += 1
        timed.append(calls)
        print(f"RESULT {(time.perf_counter() - start) * 1000:.3f} {(time.process_time() - cpu) * 1000:.3f}",
              flush=True)
    return timed


def random_log_mel(rng, shape):
    """A random input in the range of SPEC log-mels (floor ln 1e-5), so the vocoder's input check stays quiet."""
    from src.audio import LOG_MEL_MIN  # pylint: disable=import-outside-toplevel
    return np.clip(rng.normal(-5, 2, shape), LOG_MEL_MIN, 2.0).astype(np.float32)


def long_worker(mode, weights, seconds, chunk_frames):
    """One long-input synthesis; prints RESULT {json} with time and peak memory."""
    from src.inference import Vocoder

    g = _load_generator(weights)
    frames = int(seconds * SR) // HOP
    mel = random_log_mel(np.random.default_rng(0), (80, frames))
    vocoder = Vocoder(g, chunk_frames=chunk_frames if mode != "one_pass" else 10 ** 9)

    def synthesize():
        if mode == "stream":
            stream = vocoder.stream()
            pieces = [stream.push(mel[:, i:i + 10]) for i in range(0, frames, 10)] + [stream.flush()]
            return np.concatenate(pieces)
        return vocoder(mel)

    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # model loaded, nothing run
    synthesize()  # first run compiles the graphs; time the second (steady state)
    start = time.perf_counter()
    audio = synthesize()
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert audio.shape == (frames * HOP,)
    print("RESULT " + json.dumps({"seconds": elapsed, "peak_mb": peak, "before_mb": base}), flush=True)


# ---------------------------------------------------------------- driver
def _spawn(args, env=None):
    return subprocess.Popen([sys.executable, os.path.abspath(__file__), *args], cwd=ROOT, text=True, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def _read_result(proc, tag="RESULT"):
    for line in proc.stdout:
        if line.startswith(tag):
            return line[len(tag):].strip()
    raise RuntimeError(f"worker exited without {tag} (rc={proc.wait()})")


def alternate_rounds(workers, repeats, warm=False):
    """Call each READY window worker in turn, `repeats` rounds, then end them: {kind: [wall ms]}, {kind: [CPU ms]}.
    warm: each timed call follows an untimed one in the same worker (see serve_window)."""
    times, cpu_times = {k: [] for k in workers}, {k: [] for k in workers}
    for _ in range(repeats):
        for kind, proc in workers.items():
            proc.stdin.write("warm\n" if warm else "run\n")
            proc.stdin.flush()
            wall, cpu = map(float, _read_result(proc).split())
            times[kind].append(wall)
            cpu_times[kind].append(cpu)
    for proc in workers.values():
        proc.stdin.write("quit\n")
        proc.stdin.close()
        proc.wait()
    return times, cpu_times


def bench_window(weights, frames, repeats, threads, tmp, warm=False):
    mel = np.random.default_rng(0).normal(-5, 2, (1, 80, frames)).astype(np.float32)
    mel = (mel + 5) / 5
    mel_path = os.path.join(tmp, "mel.npy")
    np.save(mel_path, mel)
    kinds = ["mindspore_plain", "mindspore_fast"]
    try:
        import torch  # noqa: F401
        kinds.append("torch")
    except ImportError:
        print("torch not installed: PyTorch eager is left out (pip install -r requirements-bench.txt)")
    workers = {}
    for kind in kinds:  # start one at a time so compile/warm-up does not overlap timing
        # PyTorch runs uncapped: the project's oneDNN cap is MindSpore's fix, not the peer's.
        workers[kind] = _spawn(["--worker", kind, "--weights", weights, "--mel", mel_path,
                                "--out", os.path.join(tmp, kind + ".npy"), "--threads", str(threads)],
                               env=cpu_dispatch.peer_environ() if kind == "torch" else None)
        _read_result(workers[kind], "READY")
    times, cpu_times = alternate_rounds(workers, repeats, warm)
    ref = np.load(os.path.join(tmp, "mindspore_plain.npy")).ravel()
    audio_s = frames * HOP / SR
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\n1 x 80 x {frames} frames ({audio_s:.2f} s of audio), {repeats} alternating rounds"
          f"{' (each timed call after an untimed one: warm)' if warm else ''}, medians:")
    cpu = {k: statistics.median(v) for k, v in cpu_times.items()}
    print(f"{'implementation':<18}{'wall ms':>9}{'x real time':>13}{'fast is x faster':>18}"
          f"{'CPU ms':>9}{'by CPU':>8}{'max |diff| vs plain':>21}")
    for kind in kinds:
        diff = np.abs(np.load(os.path.join(tmp, kind + ".npy")).ravel() - ref).max()
        print(f"{kind:<18}{med[kind]:>9.1f}{audio_s / (med[kind] / 1000):>13.2f}"
              f"{med[kind] / med['mindspore_fast']:>18.2f}{cpu[kind]:>9.1f}{cpu[kind] / cpu['mindspore_fast']:>8.2f}"
              f"{diff:>21.2e}")
    print("(CPU ms: the worker's CPU time per call, all threads; less sensitive than wall time to other "
          "processes taking the cores, though threads that spin while waiting count too)")
    return med


def bench_long(weights, seconds_list, chunk_frames):
    print(f"\nlong inputs (chunk_frames={chunk_frames} + 8 context frames each side), fresh process each:")
    print(f"{'input':>7}  {'mode':<10}{'seconds':>9}{'x real time':>13}{'peak RSS MB':>13}{'growth MB':>11}")
    print("(growth: peak RSS minus RSS after loading the model; includes graph compilation)")
    for seconds in seconds_list:
        for mode in ("chunked", "stream", "one_pass"):
            proc = _spawn(["--long_worker", mode, "--weights", weights, "--seconds", str(seconds),
                           "--chunk_frames", str(chunk_frames)])
            result = json.loads(_read_result(proc))
            proc.wait()
            print(f"{seconds:>6g}s  {mode:<10}{result['seconds']:>9.2f}{seconds / result['seconds']:>13.2f}"
                  f"{result['peak_mb']:>13.0f}{result['peak_mb'] - result['before_mb']:>11.0f}")


def bench_parser(doc, repeats):
    """The options bench_inference.py and bench_backends.py share, with their worker modes (internal)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--frames", type=int, default=240)
    parser.add_argument("--repeats", type=int, default=repeats)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--long", default="10,60", help="comma-separated seconds; empty to skip")
    parser.add_argument("--chunk_frames", type=int, default=240)
    parser.add_argument("--checkpoint", default="", help="generator checkpoint (default: random init)")
    parser.add_argument("--warm", action="store_true",
                        help="time each window right after an untimed one in the same worker (its weights in cache, "
                             "as when a long input's chunks follow each other); default: after the other workers' calls")
    for name in ("--worker", "--long_worker", "--weights", "--mel", "--out"):
        parser.add_argument(name, default="", help=argparse.SUPPRESS)
    return parser


def main():
    parser = bench_parser(__doc__, repeats=9)
    parser.add_argument("--seconds", type=float, default=10, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return window_worker(args.worker, args.weights, args.mel, args.out, args.threads)
    if args.long_worker:
        return long_worker(args.long_worker, args.weights, args.seconds, args.chunk_frames)

    with tempfile.TemporaryDirectory() as tmp:
        weights = os.path.join(tmp, "weights.npz")
        ms = _ms_setup()
        from src.model import Generator, load_generator

        if args.checkpoint:
            g = load_generator(args.checkpoint)
        else:
            ms.set_seed(0)
            g = Generator(0.2)
        np.savez(weights, **{p.name: p.asnumpy() for p in g.get_parameters()})
        print(cpu_dispatch.header())
        print(f"mindspore {ms.__version__}, {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.2f} "
              "(other processes on a shared machine inflate absolute times; compare within a run)")
        med = bench_window(weights, args.frames, args.repeats, args.threads, tmp, args.warm)
        if "torch" in med:
            print(f"fast path vs PyTorch eager: {med['torch'] / med['mindspore_fast']:.2f}x; "
                  f"vs plain MindSpore graph: {med['mindspore_plain'] / med['mindspore_fast']:.2f}x")
        if args.long:
            bench_long(weights, [float(s) for s in args.long.split(",") if s], args.chunk_frames)


if __name__ == "__main__":
    main()
