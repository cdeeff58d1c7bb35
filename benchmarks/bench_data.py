"""Data pipeline figures: preprocessing speed and training-batch supply vs. what training consumes.

    .venv/bin/python benchmarks/bench_data.py [--utterances 40] [--copies 5] [--repeats 3] [--train_steps 3]

Prints, measured in this run (medians of --repeats):
  1. preprocess.py speed in seconds of audio per wall second, with 1 and 2 worker processes, on the
     espeak-ng demo corpus repeated --copies times (22050 Hz mono, as LJ Speech) and on the same
     at 44.1 kHz stereo (resampled and mixed down);
  2. create_dataset batches/s at batch 4 x train_length 64, with 1 and 2 workers;
  3. the CPU training step at the same batch (src/trainer.py, graph mode, after the compile step),
     and the ratio of batch supply to consumption (target >= 10).
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

import numpy as np
import soundfile as sf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from preprocess import preprocess  # noqa: E402
from src import cpu_dispatch  # noqa: E402
from src.demo_corpus import make_demo_corpus  # noqa: E402

BATCH, TRAIN_LENGTH = 4, 64


def enlarged_copy(corpus, out, copies, stereo_44k=False):
    """The corpus repeated `copies` times (more audio per run, so fixed start-up costs weigh less),
    optionally at 44.1 kHz stereo (a common recording format) to measure resampling + mixdown."""
    import librosa  # pylint: disable=import-outside-toplevel
    os.makedirs(os.path.join(out, "wavs"), exist_ok=True)
    rows = []
    for name in sorted(os.listdir(os.path.join(corpus, "wavs"))):
        audio, _ = sf.read(os.path.join(corpus, "wavs", name), dtype="float32")
        if stereo_44k:
            up = librosa.resample(audio, orig_sr=22050, target_sr=44100)
            audio = np.stack([up, 0.8 * up], axis=1)
        for k in range(copies):
            stem = f"{name[:-4]}-{k}"
            sf.write(os.path.join(out, "wavs", stem + ".wav"), audio, 44100 if stereo_44k else 22050,
                     subtype="PCM_16")
            rows.append(f"{stem}|-|-\n")
    with open(os.path.join(out, "metadata.csv"), "w", encoding="utf-8") as f:
        f.writelines(rows)
    return out


def bench_preprocess(corpus, workdir, workers, repeats):
    """Median seconds of audio per wall second for a fresh preprocess.py run."""
    speeds = []
    for r in range(repeats):
        out = os.path.join(workdir, f"ds_{workers}_{r}")
        stats = preprocess(corpus, out, val_size=4, num_workers=workers)
        speeds.append(stats["processed_seconds"] / stats["wall"])
        shutil.rmtree(out)
    return statistics.median(speeds)


def bench_batches(train_dir, workers, repeats, batches=120):
    """Median batches/s from create_dataset (after the first batch: worker start-up excluded)."""
    from src.dataset import create_dataset  # pylint: disable=import-outside-toplevel
    rates = []
    for r in range(repeats):
        ds = create_dataset(train_dir, BATCH, TRAIN_LENGTH, num_workers=workers, seed=r)
        epochs = -(-(batches + 1) // ds.get_dataset_size())
        it = ds.create_tuple_iterator(num_epochs=epochs, output_numpy=True)
        count, start = -1, None
        for _ in range(epochs):
            for _batch in it:
                count += 1
                if count == 0:
                    start = time.perf_counter()
                if count == batches:
                    break
            if count == batches:
                break
        rates.append(count / (time.perf_counter() - start))
        it.stop()
    return statistics.median(rates)


def bench_train_step(train_dir, steps):
    """Median seconds per training iteration (G step + D step) at BATCH x TRAIN_LENGTH on CPU."""
    import mindspore as ms  # pylint: disable=import-outside-toplevel
    from src.dataset import create_dataset  # pylint: disable=import-outside-toplevel
    from src.model_utils.config import get_config  # pylint: disable=import-outside-toplevel
    from src.trainer import MelGANTrainer  # pylint: disable=import-outside-toplevel
    cfg = get_config(["--batch_size", str(BATCH), "--train_length", str(TRAIN_LENGTH), "--device_target", "CPU"])
    cpu_dispatch.set_device("CPU")
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_seed(0)
    trainer = MelGANTrainer(cfg)
    ds = create_dataset(train_dir, BATCH, TRAIN_LENGTH, num_workers=1)
    batches = [b for b in ds.create_tuple_iterator(num_epochs=1, output_numpy=True)]
    times = []
    for i in range(steps + 1):
        start = time.perf_counter()
        trainer.train_step(*(ms.Tensor(x) for x in batches[i % len(batches)]))
        if i > 0:  # the first step compiles the graphs
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--utterances", type=int, default=40, help="demo corpus size")
    parser.add_argument("--copies", type=int, default=5, help="preprocessing input = corpus x copies")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train_steps", type=int, default=3, help="timed training steps (0: skip)")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="bench_data.")
    try:
        corpus = make_demo_corpus(os.path.join(work, "corpus"), args.utterances, seed=0)
        big = enlarged_copy(corpus, os.path.join(work, "big"), args.copies)
        big44 = enlarged_copy(corpus, os.path.join(work, "big44"), args.copies, stereo_44k=True)
        seconds = sum(sf.info(os.path.join(big, "wavs", f)).duration for f in os.listdir(os.path.join(big, "wavs")))
        rows = []
        for label, source in (("22050 Hz mono", big), ("44100 Hz stereo", big44)):
            for workers in (1, 2):
                rows.append((label, workers, bench_preprocess(source, work, workers, args.repeats)))
        train_dir = os.path.join(work, "dataset")
        preprocess(corpus, train_dir, val_size=4, num_workers=2)
        train_dir = os.path.join(train_dir, "train")
        supply = {w: bench_batches(train_dir, w, args.repeats) for w in (1, 2)}
        step = bench_train_step(train_dir, args.train_steps) if args.train_steps > 0 else None

        print("\n" + cpu_dispatch.header())
        print(f"== data pipeline benchmark ({os.cpu_count()} CPU cores, load average "
              f"{os.getloadavg()[0]:.1f}; medians of {args.repeats}) ==")
        print(f"preprocess.py on the demo corpus x {args.copies} ({args.utterances * args.copies} files, "
              f"{seconds:.0f} s of audio), fresh output, seconds of audio per wall second:")
        for label, workers, speed in rows:
            print(f"  {label:16s} {workers} worker{'s' if workers > 1 else ' '}: {speed:7.1f} s/s")
        for label in ("22050 Hz mono", "44100 Hz stereo"):
            one, two = (s for lab, _, s in rows if lab == label)
            print(f"  {label}: 2 workers vs 1: x{two / one:.2f}")
        print(f"create_dataset on the demo corpus ({args.utterances - 4} training utterances), "
              f"batch {BATCH} x train_length {TRAIN_LENGTH}:")
        for w, rate in supply.items():
            print(f"  {w} worker{'s' if w > 1 else ' '}: {rate:7.1f} batches/s")
        if step is not None:
            print(f"CPU training step (G+D, graph mode, fp32) at the same batch: {step:.2f} s/it "
                  f"= {1 / step:.3f} batches/s")
            print(f"supply / consumption (2 workers): x{supply[2] * step:.0f}  (target >= 10)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
