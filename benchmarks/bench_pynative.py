"""PYNATIVE mode on CPU: MindSpore's default asynchronous operator launch vs. the synchronous launch
every entry point sets there (`src.cpu_dispatch.set_device`, docs/performance.md §2).

    .venv/bin/python benchmarks/bench_pynative.py [--rounds 2] [--steps 3]

Launch mode is per process and cannot be undone, so each round runs one fresh process per mode,
alternating. Each process builds the zoo generator and a narrow discriminator (same seed), warms up
with one training step, then times --steps steps (batch 1 x 8 frames) and 5 forwards of the plain
Generator on 100 frames. Prints medians of wall and CPU seconds, the ratios, and whether both modes
gave the same losses.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from src import cpu_dispatch  # noqa: E402  (fixes oneDNN's dispatch before MindSpore runs a kernel)
from src.architecture import DISCRIMINATOR, GENERATOR  # noqa: E402

MODES = ("asynchronous", "synchronous")


def _cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timed(fn, repeat):
    wall, cpu = time.perf_counter(), _cpu()
    for _ in range(repeat):
        result = fn()
    return time.perf_counter() - wall, _cpu() - cpu, result


def worker(mode, steps):
    import mindspore as ms  # pylint: disable=import-outside-toplevel

    from src.model import Generator, MultiDiscriminator  # pylint: disable=import-outside-toplevel
    from src.model_utils.config import get_config  # pylint: disable=import-outside-toplevel
    from src.trainer import MelGANTrainer  # pylint: disable=import-outside-toplevel

    if mode == "synchronous":
        cpu_dispatch.set_device("CPU")
    else:
        ms.set_device("CPU")  # MindSpore's default launch
    ms.set_context(mode=ms.PYNATIVE_MODE)
    ms.set_seed(0)
    trainer = MelGANTrainer(get_config(["--batch_size", "1", "--train_length", "8"]),
                            discriminator=MultiDiscriminator(arch=DISCRIMINATOR.narrowed(16)))
    rng = np.random.default_rng(0)
    mel = ms.Tensor(rng.uniform(-1, 1, (1, GENERATOR.mel_channels, 8)).astype(np.float32))
    wav = ms.Tensor(rng.uniform(-0.5, 0.5, (1, 1, 8 * GENERATOR.hop)).astype(np.float32))
    losses = [trainer.train_step(mel, wav, mel, wav)]  # warm-up step
    step_wall, step_cpu, _ = _timed(lambda: losses.append(trainer.train_step(mel, wav, mel, wav)), steps)
    generator = Generator()
    generator.set_train(False)
    x = ms.Tensor(rng.uniform(-1, 1, (1, GENERATOR.mel_channels, 100)).astype(np.float32))
    generator(x).asnumpy()
    fwd_wall, fwd_cpu, _ = _timed(lambda: generator(x).asnumpy(), 5)
    print(json.dumps({"step_wall": step_wall / steps, "step_cpu": step_cpu / steps, "fwd_wall": fwd_wall / 5,
                      "fwd_cpu": fwd_cpu / 5, "losses": losses}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--worker", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.steps)
    print(cpu_dispatch.header())
    runs = {mode: [] for mode in MODES}
    for _ in range(args.rounds):
        for mode in MODES:
            done = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", mode, "--steps",
                                   str(args.steps)], capture_output=True, text=True, cwd=ROOT,
                                  env=dict(os.environ, GLOG_v="3"), check=False)
            if done.returncode != 0:
                raise SystemExit(f"error: the {mode} worker failed:\n{done.stderr[-3000:]}")
            runs[mode].append(json.loads(done.stdout.strip().splitlines()[-1]))
    med = {mode: {k: statistics.median(r[k] for r in runs[mode]) for k in ("step_wall", "step_cpu", "fwd_wall", "fwd_cpu")}
           for mode in MODES}
    print(f"PYNATIVE on CPU, {args.rounds} rounds, medians (s): training step = zoo G + narrow D, batch 1 x 8 "
          f"frames; forward = plain Generator, 100 frames")
    print(f"{'launch':<14}{'step wall':>11}{'step CPU':>10}{'fwd wall':>10}{'fwd CPU':>9}")
    for mode in MODES:
        m = med[mode]
        print(f"{mode:<14}{m['step_wall']:>11.2f}{m['step_cpu']:>10.2f}{m['fwd_wall']:>10.3f}{m['fwd_cpu']:>9.3f}")
    a, s = med["asynchronous"], med["synchronous"]
    print(f"asynchronous / synchronous: step {a['step_wall'] / s['step_wall']:.2f}x the time, "
          f"{a['step_cpu'] / s['step_cpu']:.2f}x the CPU; forward {a['fwd_wall'] / s['fwd_wall']:.2f}x the time, "
          f"{a['fwd_cpu'] / s['fwd_cpu']:.2f}x the CPU")
    same = all(r["losses"] == runs[MODES[0]][0]["losses"] for mode in MODES for r in runs[mode])
    print(f"losses identical in every process: {same} (first step loss_G, loss_D = {runs[MODES[0]][0]['losses'][0]})")
    return None


if __name__ == "__main__":
    main()
