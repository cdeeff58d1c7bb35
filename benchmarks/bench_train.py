"""CPU training step: this port (src/trainer.py, graph mode) vs. the same MelGAN in PyTorch.

    .venv/bin/python benchmarks/bench_train.py [--rounds 2] [--steps 4] [--batch 4] [--train_length 32]

One step = a generator step then a discriminator step (SPEC §4: same networks, losses, Adam, same
batch of random data). Each round runs one fresh process per framework, alternating, so both see
the same machine load; each process compiles/warms up with one step, then times --steps steps.
Prints the median seconds per step of each framework, the ratio, and each one's peak resident
memory (the process's high-water mark, which includes the framework itself).
torch is a benchmark-only dependency (requirements-bench.txt).
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
from src.architecture import GENERATOR  # noqa: E402


def make_batch(batch, length, seed=0):
    rng = np.random.default_rng(seed)
    mel = lambda: rng.uniform(-1, 1, (batch, GENERATOR.mel_channels, length)).astype(np.float32)  # noqa: E731
    wav = lambda: rng.uniform(-0.5, 0.5, (batch, 1, length * GENERATOR.hop)).astype(np.float32)  # noqa: E731
    return mel(), wav(), mel(), wav()


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def mindspore_steps(batch, length, steps):
    os.environ.setdefault("GLOG_v", "3")
    import mindspore as ms  # pylint: disable=import-outside-toplevel
    from src.model_utils.config import get_config  # pylint: disable=import-outside-toplevel
    from src.trainer import MelGANTrainer  # pylint: disable=import-outside-toplevel
    cpu_dispatch.set_device("CPU")
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_seed(0)
    trainer = MelGANTrainer(get_config(["--train_length", str(length), "--batch_size", str(batch)]))
    data = [ms.Tensor(x) for x in make_batch(batch, length)]
    times = []
    for _ in range(steps + 1):  # the first one compiles
        start = time.perf_counter()
        trainer.train_step(*data)
        times.append(time.perf_counter() - start)
    return times[1:]


def torch_steps(batch, length, steps):
    import torch  # pylint: disable=import-outside-toplevel
    from benchmarks.torch_peers import Generator, MultiDiscriminator  # pylint: disable=import-outside-toplevel
    torch.manual_seed(0)
    generator, discriminator = Generator(), MultiDiscriminator()  # built from src.architecture's tables
    opt_g = torch.optim.Adam(generator.parameters(), 1e-4, betas=(0.9, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), 1e-4, betas=(0.9, 0.999))
    msq = lambda x: x.pow(2).sum(dim=(1, 2)).mean()  # noqa: E731
    mel, wav, mel_d, wav_d = (torch.from_numpy(x) for x in make_batch(batch, length))

    # As lean as src/trainer.py: real features without gradient in the G step, fake and real through
    # D as one 2B batch in the D step.
    def step():
        fake = generator(mel)
        with torch.no_grad():
            d_real = discriminator(wav)
        d_fake = discriminator(fake)
        loss_g = sum(msq(f[-1] - 1) for f in d_fake)
        loss_g = loss_g + 10 * sum((a - b).abs().mean() for f, r in zip(d_fake, d_real)
                                   for a, b in zip(f[:-1], r[:-1]))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        with torch.no_grad():
            fake = generator(mel_d)
        outs = discriminator(torch.cat([fake, wav_d]))
        loss_d = sum(msq(o[-1][:batch]) + msq(o[-1][batch:] - 1) for o in outs)
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        return float(loss_g), float(loss_d)

    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return times[1:]


def run_worker(framework, args):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", framework, "--steps", str(args.steps),
           "--batch", str(args.batch), "--train_length", str(args.train_length)]
    # PyTorch runs uncapped: the project's oneDNN cap is MindSpore's fix, not the peer's.
    env = cpu_dispatch.peer_environ() if framework == "torch" else dict(os.environ)
    done = subprocess.run(cmd, capture_output=True, text=True, env=dict(env, GLOG_v="3"), check=False)
    if done.returncode != 0:
        raise SystemExit(f"error: {framework} worker failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--train_length", type=int, default=32)
    parser.add_argument("--worker", choices=["mindspore", "torch"])
    args = parser.parse_args()
    if args.worker:
        run = mindspore_steps if args.worker == "mindspore" else torch_steps
        times = run(args.batch, args.train_length, args.steps)
        print(json.dumps({"times": times, "peak_rss_mb": peak_rss_mb()}))
        return

    print(cpu_dispatch.header(), flush=True)
    results = {"mindspore": [], "torch": []}
    for r in range(args.rounds):
        for framework in ("mindspore", "torch") if r % 2 == 0 else ("torch", "mindspore"):
            out = run_worker(framework, args)
            results[framework].append(out)
            print(f"round {r + 1} {framework:9s}: median {statistics.median(out['times']):.2f} s/step "
                  f"(steps {', '.join(f'{t:.2f}' for t in out['times'])}), peak RSS {out['peak_rss_mb']:.0f} MB",
                  flush=True)
    med = {k: statistics.median(t for o in v for t in o["times"]) for k, v in results.items()}
    peak = {k: max(o["peak_rss_mb"] for o in v) for k, v in results.items()}
    print(f"\nCPU training step, batch {args.batch} x train_length {args.train_length} "
          f"({args.train_length * GENERATOR.hop} samples), {args.rounds} rounds x {args.steps} steps, "
          f"{os.cpu_count()} CPUs:")
    print(f"  MindSpore (this port, graph mode): {med['mindspore']:.2f} s/step, peak RSS {peak['mindspore']:.0f} MB")
    print(f"  PyTorch (same networks, eager):    {med['torch']:.2f} s/step, peak RSS {peak['torch']:.0f} MB")
    print(f"  step time ratio MindSpore/PyTorch: {med['mindspore'] / med['torch']:.2f} (target <= 1.10); "
          f"peak memory ratio: {peak['mindspore'] / peak['torch']:.2f} (target <= 1.00)")


if __name__ == "__main__":
    main()
