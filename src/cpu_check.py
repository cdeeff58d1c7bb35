"""Is MindSpore running at full speed on this CPU?  `python -m src.cpu_check`

Prints the CPU, the ISA and convolution kernel oneDNN really uses (read from its verbose log in a
child process), MindSpore's throughput on a representative convolution (128 -> 128 channels, k3,
15360 samples) next to NumPy's BLAS on the same FLOPs, and one generator window (240 frames, the
Vocoder's path) in ms and x real time. Says clearly when the convolution is far below what the CPU
gives (the AVX-512 reference-kernel pathology, src/cpu_dispatch.py). Exit code 1 in that case.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

import numpy as np

from src import cpu_dispatch

CONV = dict(channels=128, kernel=3, samples=15360)
WINDOW_FRAMES = 240
FAR_BELOW = 0.1  # conv below this fraction of the BLAS figure: a pathology, not noise


def conv_flops(channels=CONV["channels"], kernel=CONV["kernel"], samples=CONV["samples"]):
    return 2.0 * channels * channels * kernel * samples


def median_ms(fn, repeats):
    """Median ms of `repeats` calls after one warm-up call (compile, first primitive)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def conv_ms(repeats=7):
    """Median ms of MindSpore's nn.Conv1d(128, 128, 3, pad 1) over 15360 samples, batch 1."""
    import mindspore as ms  # pylint: disable=import-outside-toplevel
    from mindspore import nn  # pylint: disable=import-outside-toplevel
    conv = nn.Conv1d(CONV["channels"], CONV["channels"], CONV["kernel"], pad_mode="pad", padding=1, has_bias=True)
    x = ms.Tensor(np.random.default_rng(0).standard_normal((1, CONV["channels"], CONV["samples"]), np.float32))
    return median_ms(lambda: conv(x).asnumpy(), repeats)


def blas_ms(repeats=7):
    """Median ms of NumPy's float32 GEMM with the convolution's FLOPs (its im2col form)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((CONV["channels"], CONV["channels"] * CONV["kernel"]), np.float32)
    b = rng.standard_normal((CONV["channels"] * CONV["kernel"], CONV["samples"]), np.float32)
    return median_ms(lambda: a @ b, repeats)


def window_ms(repeats=5, frames=WINDOW_FRAMES):
    """Median ms of one generator window through the Vocoder's compiled path (random weights)."""
    import mindspore as ms  # pylint: disable=import-outside-toplevel
    from src.inference import Vocoder  # pylint: disable=import-outside-toplevel
    from src.model import Generator  # pylint: disable=import-outside-toplevel
    ms.set_seed(0)
    vocoder = Vocoder(Generator())
    mel = np.random.default_rng(0).uniform(-1, 1, (1, 80, frames)).astype(np.float32)
    return median_ms(lambda: vocoder.run(mel), repeats)


_PROBE = "from src.cpu_check import conv_ms; conv_ms(repeats=1)"


def onednn_dispatch():
    """(ISA line, convolution implementation) that oneDNN reports for one MindSpore convolution.

    Run in a child with ONEDNN_VERBOSE=1 (the variable is read once per process); the child
    inherits this process's cap, as every entry point's children do.
    """
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, ONEDNN_VERBOSE="1", GLOG_v="3",
               PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, env=env,
                          cwd=root, timeout=600, check=False)
    return parse_verbose(done.stdout + done.stderr)


def parse_verbose(text):
    """(ISA, convolution implementation) from oneDNN verbose output; None where absent."""
    isa = re.search(r"onednn_verbose,.*?info,cpu,isa:([^\n]+)", text)
    impl = re.search(r"onednn_verbose,.*?exec,cpu,convolution,([^,\n]+)", text)
    return (isa.group(1).strip() if isa else None), (impl.group(1).strip() if impl else None)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per figure (median)")
    args = parser.parse_args(argv)
    os.environ.setdefault("GLOG_v", "3")

    print(cpu_dispatch.header())
    print(cpu_dispatch.startup_line())
    isa, impl = onednn_dispatch()
    print(f"oneDNN ISA in use: {isa or 'not reported'}")
    print(f"oneDNN convolution kernel: {impl or 'not reported'}")

    gflop = conv_flops() / 1e9
    conv, blas = conv_ms(args.repeats), blas_ms(args.repeats)
    conv_rate, blas_rate = gflop / conv * 1000, gflop / blas * 1000
    print(f"MindSpore Conv1d 128->128 k3 over {CONV['samples']} samples: {conv:.1f} ms = {conv_rate:.1f} GFLOP/s "
          f"(NumPy BLAS, same FLOPs: {blas_rate:.1f} GFLOP/s)")
    window = window_ms(max(3, args.repeats // 2))
    from src.features import ZOO  # pylint: disable=import-outside-toplevel

    audio_s = WINDOW_FRAMES * ZOO.hop / ZOO.sample_rate
    print(f"generator window ({WINDOW_FRAMES} frames = {audio_s:.2f} s of audio): {window:.0f} ms = "
          f"{audio_s * 1000 / window:.1f}x real time")

    slow = conv_rate < FAR_BELOW * blas_rate or (impl is not None and "ref" in impl)
    if slow:
        print(f"WARNING: MindSpore's convolutions run far below this CPU's speed ({conv_rate:.1f} GFLOP/s, "
              f"kernel {impl}). If ONEDNN_MAX_CPU_ISA is set, try unsetting it; see src/cpu_dispatch.py.")
        return 1
    print("OK: MindSpore's convolutions run at this CPU's speed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
