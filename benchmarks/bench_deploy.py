"""Deployment figures: export time, and one generator window [1, 80, 240] through every runtime.

    .venv/bin/python benchmarks/bench_deploy.py [--repeats 10] [--eval_length 240]

Prints, measured side by side in this run on the same randomly initialised weights and input
(medians of --repeats after one warm-up call):
  1. export.py wall time for MINDIR (fixed and dynamic frame axis) and ONNX;
  2. ms per window and times real time for: the checkpoint's Generator in MindSpore graph mode,
     the exported MINDIR through mindspore.load + nn.GraphCell, the exported ONNX through
     onnxruntime, and the C++ app (ascend310_infer/, MindSpore Lite 2.0 CPU runtime);
  3. each runtime's max |output - checkpoint| on that input.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from src import cpu_dispatch  # noqa: E402  (fixes oneDNN's dispatch before MindSpore runs a kernel)
from src.cpu_check import median_ms  # noqa: E402
from src.features import ZOO  # noqa: E402

import mindspore as ms  # noqa: E402

import export  # noqa: E402
from src.checkpoint import save_checkpoint  # noqa: E402
from src.model import Generator  # noqa: E402
from src.model_utils.config import get_config  # noqa: E402

SAMPLE_RATE, HOP = ZOO.sample_rate, ZOO.hop


def timed_export(ckpt, name, *extra):
    start = time.perf_counter()
    path = export.export(get_config(["--checkpoint_path", ckpt, "--file_name", name, *extra]))
    return path, time.perf_counter() - start


def cpp_median_ms(work, mindir, window, repeats):
    """Run the C++ app over `repeats` copies of the window; returns (median ms, output of the first)."""
    subprocess.run(["bash", os.path.join(ROOT, "ascend310_infer", "build.sh")], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lite = os.path.join(work, "lite.mindir")
    subprocess.run([sys.executable, os.path.join(ROOT, "ascend310_infer", "lite_compat.py"), mindir, lite],
                   check=True, stdout=subprocess.DEVNULL)
    bins = os.path.join(work, "bins")
    os.makedirs(bins)
    for i in range(repeats + 1):  # the first call also pays the runtime's warm-up
        window.tofile(os.path.join(bins, f"w_{i:03d}.bin"))
    out = subprocess.run([os.path.join(ROOT, "ascend310_infer", "build", "melgan_infer"), f"--mindir_path={lite}",
                          f"--input0_path={bins}", f"--output_path={work}/res", f"--time_path={work}/time"],
                         check=True, capture_output=True, text=True).stdout
    median = float(re.search(r"median time: ([0-9.]+) ms", out).group(1))
    return median, np.fromfile(os.path.join(work, "res", "w_000_0.bin"), dtype=np.float32)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--eval_length", type=int, default=240)
    args = parser.parse_args()
    os.environ.setdefault("GLOG_v", "3")
    print(cpu_dispatch.header())
    cpu_dispatch.set_device("CPU")
    frames = args.eval_length
    audio_ms = frames * HOP / SAMPLE_RATE * 1000
    x = np.random.default_rng(0).uniform(-1.3, 1.0, size=(1, 80, frames)).astype(np.float32)

    with tempfile.TemporaryDirectory() as work:
        ms.set_seed(0)
        ckpt = os.path.join(work, "g.ckpt")
        generator = Generator(0.2)
        generator.set_train(False)
        save_checkpoint(generator, ckpt)
        common = ("--eval_length", str(frames))
        mindir, t_mindir = timed_export(ckpt, os.path.join(work, "fixed"), *common)
        _, t_dynamic = timed_export(ckpt, os.path.join(work, "dynamic"), "--dynamic_length", "True")
        onnx_path, t_onnx = timed_export(ckpt, os.path.join(work, "model"), "--file_format", "ONNX", *common)
        print(f"export.py wall time: MINDIR {t_mindir:.1f} s, MINDIR dynamic {t_dynamic:.1f} s, ONNX {t_onnx:.1f} s")

        tensor = ms.Tensor(x)
        compiled = ms.jit(generator)
        reference = compiled(tensor).asnumpy().ravel()
        graph = ms.nn.GraphCell(ms.load(mindir))
        import onnxruntime  # pylint: disable=import-outside-toplevel
        session = onnxruntime.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
        feed = {session.get_inputs()[0].name: x}

        rows = [
            ("checkpoint Generator, MindSpore graph mode", median_ms(lambda: compiled(tensor).asnumpy(), args.repeats),
             reference),
            ("MINDIR via mindspore.load + GraphCell", median_ms(lambda: graph(tensor).asnumpy(), args.repeats),
             graph(tensor).asnumpy().ravel()),
            ("ONNX via onnxruntime", median_ms(lambda: session.run(None, feed), args.repeats),
             session.run(None, feed)[0].ravel()),
        ]
        cpp_ms, cpp_out = cpp_median_ms(work, mindir, x, args.repeats)
        rows.append(("C++ app, MindSpore Lite 2.0 CPU", cpp_ms, cpp_out))

    print(f"\none window [1, 80, {frames}] = {audio_ms:.0f} ms of audio; medians of {args.repeats} runs, 2 threads")
    print(f"{'runtime':<44} {'ms/window':>10} {'x real time':>12} {'max |diff|':>11}")
    for name, ms_per, out in rows:
        diff = float(np.max(np.abs(out - reference)))
        print(f"{name:<44} {ms_per:>10.1f} {audio_ms / ms_per:>12.1f} {diff:>11.2g}")


if __name__ == "__main__":
    main()
