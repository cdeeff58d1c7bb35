"""Train MelGAN (SPEC §4) on CPU, GPU or Ascend, single device or data parallel.

    python train.py --data_path DATASET/train --save_checkpoint_path OUT [--key value ...]
    python train.py --pre_trained True --checkpoint_path OUT/melgan-3_1200.ckpt   # resume / fine-tune

Logs the zoo's line `{epoch}epoch {iter}iter loss_G=.. loss_D=.. ..s/it` (iter counts all epochs),
writes `{save_checkpoint_name}-{epoch}_{step}.ckpt` every `save_steps` and at the end (rank 0 only).
During `generator_warmup_steps` only G trains (spectral loss), and loss_D is logged as nan.
`--eval_every N` copy-synthesizes the val set (DATASET/val against DATASET/val_wav) every N steps
and writes `learning_curve.csv` beside the checkpoints (docs/training_recipes.md).
Any problem with the input stops with one line naming the file or key, before training starts.
"""
import contextlib
import csv
import io
import os
import sys
import tempfile
import time

os.environ.setdefault("GLOG_v", "3")  # MindSpore's deprecation warnings would bury the log lines

import numpy as np  # noqa: E402
import mindspore as ms  # noqa: E402

from src import cpu_dispatch  # noqa: E402
from src import metrics  # noqa: E402
from src.audio import AudioError  # noqa: E402
from src.fileio import write_text  # noqa: E402
from src.checkpoint import CheckpointError  # noqa: E402
from src.model_utils.config import get_config  # noqa: E402
from src.model_utils.moxing_adapter import moxing_wrapper  # noqa: E402
from src.trainer import (AMP_LEVELS, MelGANTrainer, checkpoint_name, prune_checkpoints,  # noqa: E402
                         remove_stale_temp_files)

DEVICES = ("CPU", "GPU", "Ascend")


def validate_config(cfg):
    """Values that would fail later (or train nonsense) are refused now, in one line."""
    checks = [
        (cfg.device_target in DEVICES, f"device_target must be one of {', '.join(DEVICES)}"),
        (cfg.amp_level in AMP_LEVELS, f"amp_level must be one of {', '.join(AMP_LEVELS)} "
                                      "(O1 fails on nn.LeakyReLU in MindSpore 2.10)"),
        (cfg.context_mode in ("GRAPH", "PYNATIVE"), "context_mode must be GRAPH or PYNATIVE"),
        (cfg.batch_size >= 1, "batch_size must be >= 1"),
        (1 <= cfg.train_length <= 240, "train_length must be in [1, 240] mel frames"),
        (cfg.epoch_size >= 1, "epoch_size must be >= 1"),
        (cfg.max_steps >= 0, "max_steps must be >= 0 (0 = run epoch_size epochs)"),
        (cfg.save_steps >= 1, "save_steps must be >= 1"),
        (cfg.log_every >= 1, "log_every must be >= 1"),
        (cfg.lr_g > 0 and cfg.lr_d > 0, "lr_g and lr_d must be > 0"),
        (0 <= cfg.beta1 < 1 and 0 <= cfg.beta2 < 1, "beta1 and beta2 must be in [0, 1)"),
        (cfg.loss_scale >= 1, "loss_scale must be >= 1"),
        (cfg.loss_scale_factor >= 1 and cfg.loss_scale_window >= 1, "loss_scale_factor and loss_scale_window must be >= 1"),
        (min(cfg.stft_loss_weight, cfg.mel_loss_weight, cfg.adv_weight, cfg.feat_weight) >= 0,
         "stft_loss_weight, mel_loss_weight, adv_weight and feat_weight must be >= 0"),
        (cfg.generator_warmup_steps >= 0, "generator_warmup_steps must be >= 0"),
        (cfg.generator_warmup_steps == 0 or cfg.stft_loss_weight > 0 or cfg.mel_loss_weight > 0,
         "generator_warmup_steps needs stft_loss_weight > 0 or mel_loss_weight > 0"),
        (cfg.eval_every >= 0, "eval_every must be >= 0 (0 = off)"),
        (cfg.max_train_cpu_seconds >= 0, "max_train_cpu_seconds must be >= 0 (0 = no limit)"),
        (cfg.hop_size == 256, "hop_size must be 256 (the generator upsamples by 8*8*2*2)"),
        (bool(cfg.save_checkpoint_name) and "/" not in cfg.save_checkpoint_name,
         "save_checkpoint_name must be a plain file name prefix"),
    ]
    for ok, message in checks:
        if not ok:
            raise ValueError(f"config: {message} (see config.yaml)")
    if cfg.pre_trained and not os.path.isfile(cfg.checkpoint_path):
        raise ValueError(f"{cfg.checkpoint_path}: checkpoint to resume from not found (--checkpoint_path)")
    if cfg.eval_every and not os.path.isdir(val_path(cfg)):
        raise ValueError(f"{val_path(cfg)}: validation folder for --eval_every not found (--val_data_path)")


def val_path(cfg):
    """--val_data_path, else preprocess.py's DATASET/val beside DATASET/train."""
    return cfg.val_data_path or os.path.join(os.path.dirname(os.path.abspath(cfg.data_path)), "val")


class LearningCurve:
    """Copy synthesis of the val set with the current generator -> OUT/learning_curve.csv.

    Reuses eval.py's input reading and src.metrics; the mels and reference WAVs are read once,
    and one Vocoder keeps its compiled graphs while its weights are refreshed at every point.
    Each row is the mean over the clips; rows after the resumed step are dropped on resume.
    """

    COLUMNS = ("step", "phase", "train_cpu_seconds", "log_mel_l1", "stoi", "pesq_wb", "mos_est", "mos_est_ref")

    def __init__(self, folder, out_path, resume_step):
        from src.inputs import check_inputs, list_inputs, read_input  # pylint: disable=import-outside-toplevel
        items = list_inputs(folder)
        check_inputs(items)
        self.clips = []
        for name, path in items:
            mel, reference, _ = read_input(path, folder, "")
            if reference is None:
                raise ValueError(f"{path}: no reference WAV (val_wav/{name}.wav) to score the learning curve")
            self.clips.append((mel, reference))
        scores = [metrics.mos_estimate(ref) for _, ref in self.clips]
        self.mos_ref = _mean(scores)
        self.path = out_path
        self.rows = [r for r in _read_curve(out_path) if int(r["step"]) <= resume_step] if resume_step else []
        self.vocoder = None

    def evaluate(self, generator, step, phase, cpu_seconds):
        from src.inference import Vocoder  # pylint: disable=import-outside-toplevel
        if self.vocoder is None:
            self.vocoder = Vocoder(generator)
        else:
            self.vocoder.load_weights(generator)
        scores = []
        for mel, reference in self.clips:
            audio = self.vocoder(mel)
            scores.append(dict(metrics.compare(reference, audio), mos_est=metrics.mos_estimate(audio)))
        row = {"step": step, "phase": phase, "train_cpu_seconds": round(cpu_seconds, 1),
               "mos_est_ref": self.mos_ref}
        for key in ("log_mel_l1", "stoi", "pesq_wb", "mos_est"):
            row[key] = _mean([s[key] for s in scores])
        self.rows = [r for r in self.rows if int(r["step"]) != step] + [row]
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=self.COLUMNS)
        writer.writeheader()
        writer.writerows({k: "" if r.get(k) is None else r[k] for k in self.COLUMNS} for r in self.rows)
        write_text(self.path, text.getvalue())
        return row


def _mean(values):
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def _read_curve(path):
    if not os.path.isfile(path):
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _fmt_score(value):
    return "n/a" if value is None else f"{value:.4f}"


def check_writable(directory):
    """Fail now, not after hours of training, if checkpoints cannot be written there."""
    try:
        os.makedirs(directory, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".write_test."):
            pass
    except OSError as e:
        raise ValueError(f"{directory}: save_checkpoint_path is not writable ({e.strerror or e})") from None


def init_context(cfg):
    """Device, mode and (when run_distribute) MindSpore's collective communication.

    Returns (rank_id, group_size). Ascend uses HCCL from the rank table; GPU/CPU runs are launched
    by msrun (NCCL on GPU, mccl on CPU). Gradients are averaged over ranks (DATA_PARALLEL).
    """
    ms.set_device(cfg.device_target, int(os.getenv("DEVICE_ID", cfg.device_id)))
    ms.set_context(mode=ms.GRAPH_MODE if cfg.context_mode == "GRAPH" else ms.PYNATIVE_MODE)
    if not cfg.run_distribute:
        return 0, 1
    from mindspore.communication import get_group_size, get_rank, init  # pylint: disable=import-outside-toplevel
    init()
    group_size = get_group_size()
    ms.set_auto_parallel_context(parallel_mode=ms.ParallelMode.DATA_PARALLEL, gradients_mean=True,
                                 device_num=group_size)
    return get_rank(), group_size


class Progress:
    """The zoo's log line (always) and a tqdm bar when stdout is a terminal."""

    def __init__(self, total, initial, enabled):
        self.bar = None
        if enabled and sys.stdout.isatty():
            from tqdm import tqdm  # pylint: disable=import-outside-toplevel
            self.bar = tqdm(total=total or None, initial=initial, unit="it", dynamic_ncols=True, file=sys.stdout)

    def log(self, line):
        if self.bar is not None:
            self.bar.write(line)
        else:
            print(line, flush=True)

    def update(self, loss_g, loss_d):
        if self.bar is not None:
            self.bar.set_postfix(loss_G=f"{loss_g:.3f}", loss_D=f"{loss_d:.3f}", refresh=False)
            self.bar.update(1)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def train(cfg):
    validate_config(cfg)
    rank_id, group_size = init_context(cfg)
    is_main = rank_id == 0
    if is_main:
        if cfg.device_target == "CPU":
            print(cpu_dispatch.startup_line(), flush=True)
        check_writable(cfg.save_checkpoint_path)
        for name in remove_stale_temp_files(cfg.save_checkpoint_path, cfg.save_checkpoint_name):
            print(f"removed {name}: left by a save that was interrupted", flush=True)

    from src.dataset import create_dataset, set_epoch  # pylint: disable=import-outside-toplevel
    ms.set_seed(cfg.seed)
    np.random.seed(cfg.seed)
    trainer = MelGANTrainer(cfg, group_size)
    if cfg.pre_trained:
        mode = trainer.restore(cfg.checkpoint_path)
        if is_main:
            print(f"{'resuming' if mode == 'resume' else 'fine-tuning'} from {cfg.checkpoint_path}"
                  + (f" at epoch {trainer.epoch}, step {trainer.step}" if mode == "resume" else ""), flush=True)

    dataset = create_dataset(cfg.data_path, cfg.batch_size, cfg.train_length, cfg.hop_size, rank_id, group_size,
                             cfg.num_workers, cfg.seed, shuffle=True, repeat=1, start_epoch=0)
    steps_per_epoch = dataset.get_dataset_size()
    # Where to continue: the epoch holding the next step, skipping the batches already trained on
    # (windows depend only on (seed, epoch, index), so the skipped batches are the ones seen before).
    start_epoch = max(1, trainer.step // steps_per_epoch + 1)
    skip = trainer.step - (start_epoch - 1) * steps_per_epoch
    total_steps = cfg.max_steps if cfg.max_steps else cfg.epoch_size * steps_per_epoch
    if trainer.step >= total_steps:
        raise ValueError(f"{cfg.checkpoint_path}: already at step {trainer.step}, nothing left to train "
                         f"(raise --max_steps or --epoch_size)")
    set_epoch(dataset, start_epoch - 1)
    epochs_left = -(-(total_steps - trainer.step + skip) // steps_per_epoch)
    iterator = dataset.create_tuple_iterator(num_epochs=epochs_left, output_numpy=True)
    if is_main:
        print(f"training on {cfg.device_target} ({group_size} device{'s' if group_size > 1 else ''}, amp "
              f"{trainer.amp_level}, {cfg.context_mode} mode): {steps_per_epoch} steps/epoch, "
              f"batch {cfg.batch_size}, train_length {cfg.train_length}, until step {total_steps}", flush=True)

    if is_main and trainer.warmup_steps:
        print(f"generator warm-up: steps 1..{trainer.warmup_steps} train G on the spectral loss alone "
              f"(D not run, loss_D=nan); {'in warm-up' if trainer.in_warmup else 'warm-up done'} at step "
              f"{trainer.step}", flush=True)
    curve = None
    if is_main and cfg.eval_every:
        curve = LearningCurve(val_path(cfg), os.path.join(cfg.save_checkpoint_path, "learning_curve.csv"),
                              trainer.step)
        print(f"learning curve: {len(curve.clips)} val clip(s) from {val_path(cfg)} every {cfg.eval_every} steps "
              f"-> {curve.path} (reference estimated MOS {_fmt_score(curve.mos_ref)})", flush=True)

    clock = TrainClock(trainer)

    def evaluate():
        with clock.paused():
            warm = trainer.warmup_steps and trainer.step <= trainer.warmup_steps
            row = curve.evaluate(trainer.generator, trainer.step, "warm-up" if warm else "adversarial",
                                 trainer.cpu_seconds)
        progress.log(f"eval step {trainer.step} train_cpu={row['train_cpu_seconds']:.0f}s "
                     f"log_mel_l1={_fmt_score(row['log_mel_l1'])} stoi={_fmt_score(row['stoi'])} "
                     f"pesq_wb={_fmt_score(row['pesq_wb'])} mos_est={_fmt_score(row['mos_est'])} (DNSMOS estimate)")

    progress = Progress(total_steps, trainer.step, is_main)
    run_start, step_start, last_saved = time.time(), trainer.step, None
    losses = (float("nan"), float("nan"))
    if curve is not None and trainer.step == 0:
        evaluate()
    out_of_budget = False
    for epoch in range(start_epoch, start_epoch + epochs_left):
        trainer.epoch = epoch
        tick = time.time()
        for i, batch in enumerate(iterator):
            if epoch == start_epoch and i < skip:
                continue
            losses = trainer.train_step(*(ms.Tensor(x) for x in batch))
            clock.tick()
            out_of_budget = bool(cfg.max_train_cpu_seconds) and trainer.cpu_seconds >= cfg.max_train_cpu_seconds
            now = time.time()
            seconds, tick = now - tick, now
            progress.update(*losses)
            if trainer.step % cfg.log_every == 0:  # every rank logs its own shard's losses (as the zoo)
                progress.log(f"{epoch}epoch {trainer.step}iter loss_G={losses[0]:.6f} "
                             f"loss_D={losses[1]:.6f} {seconds:.2f}s/it")
            if curve is not None and (trainer.step % cfg.eval_every == 0 or out_of_budget
                                      or trainer.step >= total_steps):
                evaluate()
            if is_main and trainer.step % cfg.save_steps == 0:
                last_saved = save(trainer, cfg)
            if trainer.step >= total_steps or out_of_budget:
                break
        if trainer.step >= total_steps or out_of_budget:
            break
    progress.close()
    if is_main and out_of_budget:
        print(f"stopped at step {trainer.step}: {trainer.cpu_seconds:.0f} s of training CPU time reached "
              f"max_train_cpu_seconds {cfg.max_train_cpu_seconds:g}", flush=True)
    if is_main:
        if last_saved is None or not last_saved.endswith(checkpoint_name("", trainer.epoch, trainer.step)):
            last_saved = save(trainer, cfg)
        steps = trainer.step - step_start
        elapsed = time.time() - run_start
        print(f"done: {steps} steps in {elapsed:.1f}s ({elapsed / max(steps, 1):.2f}s/it), epoch {trainer.epoch}, "
              f"step {trainer.step}, last loss_G={losses[0]:.6f} loss_D={losses[1]:.6f}, loss scale "
              f"{trainer.loss_scale:g}, {trainer.skipped} skipped (non-finite) steps; "
              f"checkpoint {last_saved}", flush=True)


class TrainClock:
    """Process CPU time spent training (all threads; learning-curve evaluations excluded), added
    to trainer.cpu_seconds, which checkpoints carry across resumes."""

    def __init__(self, trainer):
        self.trainer = trainer
        self.last = time.process_time()

    def tick(self):
        now = time.process_time()
        self.trainer.cpu_seconds += now - self.last
        self.last = now

    @contextlib.contextmanager
    def paused(self):
        self.tick()
        try:
            yield
        finally:
            self.last = time.process_time()


def save(trainer, cfg):
    path = os.path.join(cfg.save_checkpoint_path, checkpoint_name(cfg.save_checkpoint_name, trainer.epoch, trainer.step))
    trainer.save(path)
    prune_checkpoints(cfg.save_checkpoint_path, cfg.save_checkpoint_name, cfg.keep_checkpoint_max)
    return path


def main(argv=None):
    cfg = get_config(argv)
    try:
        moxing_wrapper(config=cfg)(train)(cfg)
    except (ValueError, CheckpointError, AudioError, OSError) as e:
        raise SystemExit(f"error: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    except KeyboardInterrupt:
        raise SystemExit(f"interrupted: resume with --pre_trained True --checkpoint_path <the newest "
                         f"{cfg.save_checkpoint_name}-*.ckpt in {cfg.save_checkpoint_path}>") from None


if __name__ == "__main__":
    main()
