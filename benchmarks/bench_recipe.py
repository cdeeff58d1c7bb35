"""Zoo recipe vs fast recipe: held-out quality against training CPU time, same corpus and seed.

    .venv/bin/python benchmarks/bench_recipe.py --output_dir OUT [--budget 1200] [--num_utterances 40]

Makes the demo corpus (espeak-ng, src/demo_corpus.py) and its dataset, then trains with train.py:
  1. zoo    config.yaml (adversarial + feature matching), `--budget` CPU seconds;
  2. fast   config_fast.yaml, G warm-up on the STFT loss alone, `--budget` CPU seconds;
  3. fast+D resumed from 2 with the warm-up ended there (D switched on), `--budget` more.
The budget is the training process's CPU time (all its threads; evaluations excluded; the machine
is shared, so wall time would measure the neighbours): 1200 CPU s = 10 minutes of 2 cores.
Each run copy-synthesizes val/ against val_wav/ every few steps (train.py --eval_every). Writes
OUT/recipe_table.md (also printed) and OUT/recipe_curve.png (log-mel L1 and STOI vs CPU time).
"""
import argparse
import concurrent.futures
import csv
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from src import cpu_dispatch  # noqa: E402  (fixes oneDNN's dispatch before MindSpore runs a kernel)
from src.fileio import write_bytes, write_text  # noqa: E402

VAL_CLIPS = 4
COMMON = ["--batch_size", "4", "--train_length", "32", "--num_workers", "1", "--max_steps", "100000000",
          "--save_steps", "100000000", "--log_every", "50"]


def make_dataset(out, num_utterances):
    dataset = os.path.join(out, "dataset")
    if not os.path.isfile(os.path.join(dataset, "manifest.json")):
        corpus = os.path.join(out, "corpus")
        run([os.path.join(ROOT, "scripts", "make_demo_corpus.py"), "--output_dir", corpus,
             "--num_utterances", str(num_utterances)], os.path.join(out, "corpus.log"))
        run([os.path.join(ROOT, "preprocess.py"), "--input_dir", corpus, "--output_dir", dataset, "--val_size", str(VAL_CLIPS),
             "--num_workers", "1"], os.path.join(out, "preprocess.log"))
    return dataset


def run(args, log_path):
    print("$ python " + " ".join(os.path.relpath(a, ROOT) if a.startswith(ROOT) else a for a in args), flush=True)
    with open(log_path, "a", encoding="utf-8") as log:
        done = subprocess.run([sys.executable, *args], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                              env=dict(os.environ, GLOG_v="3"))
    if done.returncode != 0:
        raise SystemExit(f"error: {args[0]} failed (exit {done.returncode}); see {log_path}")


def last_checkpoint(folder):
    from src.checkpoint import list_checkpoints  # pylint: disable=import-outside-toplevel
    paths = list_checkpoints(folder, "melgan")
    if not paths:
        raise SystemExit(f"error: {folder}: no checkpoint written")
    return paths[-1]


def read_curve(folder):
    with open(os.path.join(folder, "learning_curve.csv"), newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k in ("step", "train_cpu_seconds", "log_mel_l1", "stoi", "pesq_wb", "mos_est", "mos_est_ref"):
            r[k] = float(r[k]) if r[k] != "" else None
    return rows


def zoo_run(args, data, zoo):
    if not os.path.isfile(os.path.join(zoo, "done")):
        run(["train.py", *data, *COMMON, "--max_train_cpu_seconds", str(args.budget), "--eval_every",
             str(args.eval_every_adversarial), "--save_checkpoint_path", zoo], os.path.join(args.output_dir, "zoo.log"))
        write_text(os.path.join(zoo, "done"), "ok\n")


def fast_runs(args, data, fast):
    if not os.path.isfile(os.path.join(fast, "warmup_done")):
        run(["train.py", "--config_path", "config_fast.yaml", *data, *COMMON, "--max_train_cpu_seconds",
             str(args.budget), "--eval_every", str(args.eval_every_warmup), "--save_checkpoint_path", fast],
            os.path.join(args.output_dir, "fast.log"))
        write_text(os.path.join(fast, "warmup_done"), last_checkpoint(fast) + "\n")
    if not os.path.isfile(os.path.join(fast, "done")):
        with open(os.path.join(fast, "warmup_done"), encoding="utf-8") as f:
            warm = f.read().strip()
        from src.checkpoint import checkpoint_step  # pylint: disable=import-outside-toplevel
        warm_steps = checkpoint_step(warm, "melgan")
        # Resumed with the warm-up ending at its last step: the discriminator joins from there.
        run(["train.py", "--config_path", "config_fast.yaml", *data, *COMMON, "--max_train_cpu_seconds",
             str(2 * args.budget), "--generator_warmup_steps", str(warm_steps), "--eval_every",
             str(args.eval_every_adversarial), "--pre_trained", "True", "--checkpoint_path", warm,
             "--save_checkpoint_path", fast], os.path.join(args.output_dir, "fast.log"))
        write_text(os.path.join(fast, "done"), "ok\n")


def train_runs(args, dataset):
    """The zoo run and the fast chain side by side (two processes: the budget is CPU time, so
    sharing the machine changes the wall time, not the comparison). Finished runs are reused."""
    data = ["--data_path", os.path.join(dataset, "train"), "--seed", str(args.seed)]
    zoo, fast = os.path.join(args.output_dir, "zoo"), os.path.join(args.output_dir, "fast")
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        jobs = [pool.submit(zoo_run, args, data, zoo), pool.submit(fast_runs, args, data, fast)]
        for job in jobs:
            job.result()
    return read_curve(zoo), read_curve(fast)


def _f(value, digits=3):
    return "n/a" if value is None else f"{value:.{digits}f}"


def table(zoo, fast, budget):
    warm = [r for r in fast if r["phase"] == "warm-up"]
    adv = [r for r in fast if r["phase"] == "adversarial"]
    rows = [("zoo (adv + feature matching)", zoo[-1]), ("fast: G warm-up, STFT loss", warm[-1])]
    if adv:
        rows.append((f"fast: + D (adversarial), {adv[-1]['train_cpu_seconds'] - warm[-1]['train_cpu_seconds']:.0f} "
                     f"CPU s after the warm-up", adv[-1]))
    lines = [f"| run | steps | train CPU s | log-mel L1 | STOI | PESQ wb | est. MOS (DNSMOS) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, r in rows:
        lines.append(f"| {name} | {int(r['step'])} | {r['train_cpu_seconds']:.0f} | {_f(r['log_mel_l1'])} | "
                     f"{_f(r['stoi'])} | {_f(r['pesq_wb'], 2)} | {_f(r['mos_est'], 2)} |")
    lines.append(f"| reference audio (val_wav) | | | 0 | 1 | 4.64 | {_f(zoo[-1]['mos_est_ref'], 2)} |")
    w = warm[-1]
    lines += ["", f"compared at {zoo[-1]['train_cpu_seconds']:.0f} (zoo) and {w['train_cpu_seconds']:.0f} (fast "
                  f"warm-up) training CPU s (budget {budget:g} = {budget / 120:g} min of 2 cores; runs stopped "
                  f"early show less); val = {VAL_CLIPS} held-out clips; reference row: L1, STOI, PESQ by definition",
              f"target fast @ budget: STOI >= 0.65 ({_f(w['stoi'])}: {'met' if (w['stoi'] or 0) >= 0.65 else 'NOT met'}), "
              f"log-mel L1 <= 1.1 ({_f(w['log_mel_l1'])}: {'met' if w['log_mel_l1'] <= 1.1 else 'NOT met'})"]
    if adv:
        ratio = adv[-1]["log_mel_l1"] / w["log_mel_l1"]
        lines.append(f"target after D on: log-mel L1 within 10 % of the warm-up value ({ratio:.3f}x: "
                     f"{'met' if ratio <= 1.1 else 'NOT met'})")
        # One evaluation is one point of a noisy run (batch 4, Adam 1e-4): show the spread, so a lucky
        # or unlucky last point is visible as such.
        l1 = [r["log_mel_l1"] for r in adv]
        lines.append(f"log-mel L1 over the {len(l1)} evaluations with D on: {min(l1):.3f}-{max(l1):.3f} "
                     f"(worst {max(l1) / w['log_mel_l1']:.3f}x the warm-up value)")
    return "\n".join(lines) + "\n"


def plot(path, zoo, fast):
    import io  # pylint: disable=import-outside-toplevel
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    series = [("zoo recipe", zoo, "tab:red"),
              ("fast: warm-up (STFT loss, G only)", [r for r in fast if r["phase"] == "warm-up"], "tab:blue"),
              ("fast: + discriminator", [r for r in fast if r["phase"] == "adversarial"], "tab:green")]
    for ax, key, label in ((axes[0], "log_mel_l1", "val log-mel L1 (lower is better)"),
                           (axes[1], "stoi", "val STOI (higher is better)")):
        for name, rows, color in series:
            pts = [(r["train_cpu_seconds"] / 60.0, r[key]) for r in rows if r[key] is not None]
            if pts:
                ax.plot(*zip(*pts), marker=".", color=color, label=name)
        ax.set_xlabel("training CPU minutes (process, all threads)")
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=70)
    plt.close(fig)
    write_bytes(path, buffer.getvalue())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--budget", type=float, default=1200.0, help="training CPU seconds per run (default 1200)")
    parser.add_argument("--num_utterances", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1234, help="training seed (the corpus is make_demo_corpus's default, seed 0)")
    parser.add_argument("--eval_every_warmup", type=int, default=100, help="steps between evaluations (warm-up)")
    parser.add_argument("--eval_every_adversarial", type=int, default=15, help="steps between evaluations (with D)")
    parser.add_argument("--report_only", action="store_true",
                        help="write the table and plot from the learning curves already in OUTPUT_DIR "
                             "(e.g. of runs stopped early), without training")
    args = parser.parse_args()
    print(cpu_dispatch.header(), flush=True)
    os.makedirs(args.output_dir, exist_ok=True)
    if args.report_only:
        zoo, fast = (read_curve(os.path.join(args.output_dir, name)) for name in ("zoo", "fast"))
    else:
        zoo, fast = train_runs(args, make_dataset(args.output_dir, args.num_utterances))
    text = table(zoo, fast, args.budget)
    write_text(os.path.join(args.output_dir, "recipe_table.md"), text)
    plot(os.path.join(args.output_dir, "recipe_curve.png"), zoo, fast)
    print(text + f"wrote {args.output_dir}/recipe_table.md and recipe_curve.png", flush=True)


if __name__ == "__main__":
    main()
