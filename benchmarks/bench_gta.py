"""Fine-tuning on an acoustic model's mels (gta_mel_path) against training on as many more steps of
ground-truth mels, judged on synthesis from the acoustic model's mels.

    .venv/bin/python benchmarks/bench_gta.py --output_dir OUT [--base_steps 300] [--finetune_steps 150]

No acoustic model runs here, so its teacher-forced ("GTA") output is SIMULATED from the ground-truth
mels the way such models err: smoothed in time and frequency (Gaussian, sigma 1.5 frames x 1 band),
with small noise (sigma 0.1 in log-mel units) and one frame too many (other padding conventions).
Steps: the demo corpus (espeak-ng) and its dataset; a base model (fast recipe, `--base_steps`); from
its checkpoint, `--finetune_steps` more on ground-truth mels (control) and as many on the simulated
GTA mels; then eval.py synthesizes the held-out clips from their simulated GTA mels (and from their
ground-truth mels) with each model, scored against the recordings. Prints OUT/gta_table.md.
"""
import argparse
import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from src import cpu_dispatch  # noqa: E402  (fixes oneDNN's dispatch before MindSpore runs a kernel)
from benchmarks.bench_recipe import COMMON, last_checkpoint, make_dataset, run  # noqa: E402
from src.fileio import save_npy, write_text  # noqa: E402

SMOOTH = (1.0, 1.5)  # Gaussian sigma in (bands, frames)
NOISE = 0.1
EXTRA_FRAMES = 1


def simulate_acoustic_model(mel_dir, out_dir, seed=0):
    """The simulated teacher-forced mels of every NAME.npy in mel_dir -> out_dir/NAME.npy."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    for name in sorted(os.listdir(mel_dir)):
        mel = np.load(os.path.join(mel_dir, name))
        gta = gaussian_filter(mel.astype(np.float64), SMOOTH, mode="nearest") + rng.normal(0, NOISE, mel.shape)
        gta = np.concatenate([gta, gta[:, -EXTRA_FRAMES:]], axis=1)
        save_npy(os.path.join(out_dir, name), gta.astype(np.float32))


def train(out, log, *extra):
    if not os.path.isfile(os.path.join(out, "done")):
        run(["train.py", "--config_path", "config_fast.yaml", *COMMON, "--save_checkpoint_path", out, *extra], log)
        write_text(os.path.join(out, "done"), last_checkpoint(out) + "\n")
    return last_checkpoint(out)


def evaluate(ckpt, mels, references, out, log):
    if not os.path.isfile(os.path.join(out, "report.json")):
        run(["eval.py", "--eval_model_path", ckpt, "--eval_data_path", mels, "--reference_path", references,
             "--output_path", out, "--backend", "mindspore"], log)
    with open(os.path.join(out, "report.json"), encoding="utf-8") as f:
        return json.load(f)["mean"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--base_steps", type=int, default=300)
    parser.add_argument("--finetune_steps", type=int, default=150)
    parser.add_argument("--num_utterances", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args(argv)
    out = os.path.abspath(args.output_dir)
    os.makedirs(out, exist_ok=True)
    print(cpu_dispatch.header(), flush=True)
    log = os.path.join(out, "bench.log")

    dataset = make_dataset(out, args.num_utterances)
    gta = os.path.join(out, "gta")
    for split, mels in (("train", os.path.join(dataset, "train", "mel")), ("val", os.path.join(dataset, "val"))):
        if not os.path.isdir(os.path.join(gta, split)):
            simulate_acoustic_model(mels, os.path.join(gta, split))

    data = ["--data_path", os.path.join(dataset, "train"), "--seed", str(args.seed)]
    base = train(os.path.join(out, "base"), log, *data, "--max_steps", str(args.base_steps))
    total = str(args.base_steps + args.finetune_steps)
    resume = ["--pre_trained", "True", "--checkpoint_path", base, "--max_steps", total]
    more_gt = train(os.path.join(out, "more_gt"), log, *data, *resume)
    tuned = train(os.path.join(out, "gta_finetuned"), log, *data, *resume, "--gta_mel_path", os.path.join(gta, "train"))

    refs = os.path.join(dataset, "val_wav")
    rows = []
    for label, ckpt in ((f"base ({args.base_steps} steps)", base), (f"+{args.finetune_steps} on ground-truth mels", more_gt),
                        (f"+{args.finetune_steps} on GTA mels (gta_mel_path)", tuned)):
        tag = os.path.basename(os.path.dirname(ckpt))
        on_gta = evaluate(ckpt, os.path.join(gta, "val"), refs, os.path.join(out, "eval", tag, "gta"), log)
        on_gt = evaluate(ckpt, os.path.join(dataset, "val"), refs, os.path.join(out, "eval", tag, "gt"), log)
        rows.append((label, on_gta, on_gt))
    lines = [f"{cpu_dispatch.header()}",
             f"Synthesis of {len(os.listdir(refs))} held-out clips, scored against their recordings (means):", "",
             "| model | from simulated GTA mels: log-mel L1 | STOI | from ground-truth mels: log-mel L1 | STOI |",
             "| --- | --- | --- | --- | --- |"]
    for label, on_gta, on_gt in rows:
        lines.append(f"| {label} | {on_gta['log_mel_l1']:.3f} | {on_gta['stoi']:.3f} | {on_gt['log_mel_l1']:.3f} "
                     f"| {on_gt['stoi']:.3f} |")
    text = "\n".join(lines) + "\n"
    write_text(os.path.join(out, "gta_table.md"), text)
    print(text)


if __name__ == "__main__":
    main()
