"""Vocoding a corpus with eval.py --metrics none, against the speed of one window, in one run.

    python benchmarks/bench_corpus.py [--count 100] [--min_seconds 1] [--max_seconds 10] [--backend auto]
                                      [--repeats 7] [--checkpoint CKPT]

A TTS team regenerating training data, or a server, vocodes many files of different lengths: what
counts is the aggregate x real time over the whole folder (reading, synthesis in exact chunks, writing
16-bit WAVs) next to the x real time of the network on one 240-frame window (the best case: no chunk
context, no file I/O). `count` random log-mels of min..max seconds (uniform, seed 0) are written to
a temporary folder, and eval.run vocodes them with `--metrics none` in this process, with the backend
eval.py would use. The ratio says how much the per-file overhead and the chunking cost.
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from src import cpu_dispatch  # noqa: E402  (fixes oneDNN's dispatch before MindSpore runs a kernel)
from benchmarks.bench_inference import random_log_mel  # noqa: E402
from src.features import ZOO  # noqa: E402
from src.fileio import save_npy  # noqa: E402

WINDOW_FRAMES = 240


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--min_seconds", type=float, default=1.0)
    parser.add_argument("--max_seconds", type=float, default=10.0)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--repeats", type=int, default=7, help="timed single windows (median)")
    parser.add_argument("--checkpoint", default="", help="a generator checkpoint (default: random weights)")
    args = parser.parse_args(argv)

    import mindspore as ms
    import eval as eval_script
    from src.inference import Vocoder
    from src.model import Generator, save_generator
    from src.model_utils.config import get_config
    from src.settings import ZOO_SETTINGS

    print(cpu_dispatch.header())
    work = tempfile.mkdtemp(prefix="bench_corpus_")
    try:
        ckpt = args.checkpoint
        if not ckpt:
            ms.set_seed(0)
            ckpt = os.path.join(work, "random.ckpt")
            save_generator(Generator(), ckpt, ZOO_SETTINGS)
        rng = np.random.default_rng(0)
        mels = os.path.join(work, "mels")
        seconds = rng.uniform(args.min_seconds, args.max_seconds, args.count)
        for i, s in enumerate(seconds):
            frames = int(s * ZOO.sample_rate) // ZOO.hop
            save_npy(os.path.join(mels, f"utt{i:03d}.npy"), random_log_mel(rng, (ZOO.n_mels, frames)))

        vocoder = Vocoder.from_checkpoint(ckpt, backend=args.backend)
        window = random_log_mel(rng, (ZOO.n_mels, WINDOW_FRAMES))

        def time_windows():
            for _ in range(3):  # compile, and a process's first calls are slower (allocations, kernels)
                vocoder(window)
            runs = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                vocoder(window)
                runs.append(time.perf_counter() - start)
            return runs

        runs = time_windows()
        cfg = get_config(["--eval_model_path", ckpt, "--eval_data_path", mels, "--metrics", "none",
                          "--output_path", os.path.join(work, "out"), "--backend", args.backend])
        start = time.perf_counter()
        rows = eval_script.run(cfg)
        wall = time.perf_counter() - start
        runs += time_windows()  # before and after: the machine's pace may change during the corpus
        window_x = WINDOW_FRAMES * ZOO.hop / ZOO.sample_rate / statistics.median(runs)
        audio = sum(r["seconds"] for r in rows)
        corpus_x = audio / wall
        print(f"\n{args.count} files of {args.min_seconds:g}-{args.max_seconds:g} s ({audio:.0f} s of audio), "
              f"backend {args.backend}:")
        print(f"one {WINDOW_FRAMES}-frame window: {window_x:.1f}x real time (median of {2 * args.repeats}, half "
              f"before and half after the corpus)")
        print(f"eval.py --metrics none over the folder (model load and every file read and written included): "
              f"{wall:.1f} s = {corpus_x:.1f}x real time = {corpus_x / window_x:.2f} of the window figure")
    finally:  # ~60 MB of mels and WAVs per run
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
