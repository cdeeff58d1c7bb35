"""The training loop (SPEC §4, docs/training.md): checks, device context, resume, the zoo's log line,
the training clock, checkpoints and the learning curve. train.py is its command line; the
distributed test and the benchmarks run it too.

    trainer = train(cfg)            # the zoo's networks, built once every cheap check has passed
    trainer = train(cfg, trainer)   # continue a MelGANTrainer (built with other networks) from its state

Everything that needs no network is checked first, in this order: config values, the device target,
the data folder, the checkpoint to resume from, the validation clips, the checkpoint folder (and
the temp files of a killed save are removed), the TensorBoard writer's package. Bad input so stops
with one src.errors.UserError line within seconds, not after ~1 GB of networks and a graph compile.
"""
import contextlib
import errno
import os
import shutil
import signal
import sys
import threading
import time

import mindspore as ms
import mindspore.ops as ops
import numpy as np

from src import cpu_dispatch, tensorboard_log
from src.checkpoint import (checkpoint_name, list_checkpoints, prune_checkpoints, read_checkpoint, scalar,
                            tensor_bytes)
from src.cli import check_device_target
from src.dataset import create_dataset, dataset_error_in, set_epoch
from src.errors import ConfigError, OutputError, UserError
from src.features import MelSettings
from src.fileio import check_writable, remove_stale_temps
from src.learning_curve import LearningCurve
from src.model import save_generator
from src.settings import ModelSettings
from src.trainer import MelGANTrainer, check_recipe, check_settings, is_training_checkpoint


def check_config(cfg):
    """ConfigError, one line naming the key, for a value that would fail later or train nonsense,
    or a device target the installed MindSpore cannot run. Returns the feature settings."""
    checks = [
        (cfg.context_mode in ("GRAPH", "PYNATIVE"), "context_mode must be GRAPH or PYNATIVE"),
        (cfg.batch_size >= 1, "batch_size must be >= 1"),
        (1 <= cfg.train_length <= 240, "train_length must be in [1, 240] mel frames"),
        (cfg.epoch_size >= 1, "epoch_size must be >= 1"),
        (cfg.max_steps >= 0, "max_steps must be >= 0 (0 = run epoch_size epochs)"),
        (cfg.save_steps >= 1, "save_steps must be >= 1"),
        (cfg.log_every >= 1, "log_every must be >= 1"),
        (cfg.eval_every >= 0, "eval_every must be >= 0 (0 = off)"),
        (not cfg.eval_every or cfg.metrics in ("fast", "all"),
         f"metrics must be fast or all with eval_every (the learning curve scores at least log-mel L1), got {cfg.metrics!r}"),
        (cfg.max_train_cpu_seconds >= 0, "max_train_cpu_seconds must be >= 0 (0 = no limit)"),
        (cfg.mel_noise_std >= 0, "mel_noise_std must be >= 0 (0 = off)"),
        (bool(cfg.save_checkpoint_name) and "/" not in cfg.save_checkpoint_name,
         "save_checkpoint_name must be a plain file name prefix"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(f"config: {message} (see config.yaml)")
    check_recipe(cfg)
    features = MelSettings.from_config(cfg)
    check_device_target(cfg.device_target)
    return features


def val_path(cfg):
    """--val_data_path, else preprocess.py's DATASET/val beside DATASET/train."""
    return cfg.val_data_path or os.path.join(os.path.dirname(os.path.abspath(cfg.data_path)), "val")


def init_context(cfg):
    """Device, mode and (when run_distribute) MindSpore's collective communication.

    Returns (rank_id, group_size). Ascend uses HCCL from the rank table; GPU/CPU runs are launched
    by msrun (NCCL on GPU, mccl on CPU). Gradients are averaged over ranks (DATA_PARALLEL).
    """
    cpu_dispatch.set_device(cfg.device_target, int(os.getenv("DEVICE_ID", cfg.device_id)))
    ms.set_context(mode=ms.GRAPH_MODE if cfg.context_mode == "GRAPH" else ms.PYNATIVE_MODE)
    if not cfg.run_distribute:
        return 0, 1
    from mindspore.communication import GlobalComm, get_group_size, get_rank, init  # pylint: disable=import-outside-toplevel
    if not GlobalComm.INITED:  # a caller that built its trainer for this group has initialized it already
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
            self.bar.set_postfix(loss_G=f"{loss_g:.3f}", loss_D=_fmt_loss(loss_d, ".3f"), refresh=False)
            self.bar.update(1)

    def close(self):
        if self.bar is not None:
            self.bar.close()


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


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopRequest:
    """SIGTERM / SIGINT while the loop runs: the flag it checks between steps (a compiled step cannot
    be interrupted safely). The first signal sets `signum`; the loop then finishes its step, saves a
    checkpoint and returns. The handlers are then the default ones, so a second signal exits at once
    (a save it cuts short leaves the previous checkpoint intact). Outside the main thread, where
    Python cannot install handlers, nothing is installed."""

    def __init__(self):
        self.signum = None
        self.requested = False  # agreed by every rank (`agreed`)
        self.previous = {}

    def handle(self, signum, _frame=None):
        if self.signum is None:
            self.signum = signum
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_DFL)

    @property
    def name(self):
        return signal.Signals(self.signum).name if self.signum else "a signal to another rank"

    def agreed(self, group_size):
        """Whether to stop now; with several ranks, whether any rank was signalled (a sum over the ranks,
        one tiny AllReduce per step), so that they all stop after the same step."""
        flag = self.signum is not None
        if group_size > 1:
            reduce_sum = ops.AllReduce(ops.ReduceOp.SUM)  # MAX: not on CPU
            flag = bool(reduce_sum(ms.Tensor([float(flag)], ms.float32)).asnumpy()[0] > 0)
        self.requested = self.requested or flag
        return self.requested

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                self.previous[sig] = signal.signal(sig, self.handle)
        return self

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        return False


def _fmt_loss(value, spec=".6f"):
    """A loss as the log shows it; None (the warm-up's loss_D: D not run) is `-`."""
    return "-" if value is None else format(value, spec)


def _fmt_score(value):
    return "n/a" if value is None else f"{value:.4f}"


# Iterations in a row with a step skipped for non-finite gradients after which training stops: the
# loss scale has been lowered 2^N times, so it is not an overflow of the scaled loss any more.
MAX_SKIPPED_IN_A_ROW = 50


class DivergedError(UserError):
    """Training cannot go on: every recent step had non-finite gradients."""


class BestGenerator:
    """With --eval_every: the generator with the lowest validation log-mel L1 so far, written (generator
    only, with its settings) to `{save_checkpoint_name}-best.ckpt`, which keep_checkpoint_max never
    prunes. A resumed run reads the best so far back from learning_curve.csv (its rows up to the resume
    step), so that a worse later point does not replace the file."""

    def __init__(self, cfg, curve):
        self.path = os.path.join(cfg.save_checkpoint_path, f"{cfg.save_checkpoint_name}-best.ckpt")
        self.score, self.step = None, None
        if os.path.isfile(self.path):  # rows written before the file existed do not count
            for row in curve.rows:
                value = row.get("log_mel_l1")
                if value not in (None, "") and (self.score is None or float(value) < self.score):
                    self.score, self.step = float(value), int(row["step"])

    def offer(self, trainer, score):
        if score is None or not np.isfinite(score) or (self.score is not None and score >= self.score):
            return
        previous = self.path if os.path.isfile(self.path) else None
        _write_checkpoint(self.path, lambda: save_generator(trainer.generator, self.path, trainer.settings),
                          lambda: tensor_bytes(trainer.generator.get_parameters()), previous)
        self.score, self.step = float(score), trainer.step

    def describe(self):
        if self.score is None:
            return ""
        return f"; best: {self.path} (log-mel L1 {self.score:.4f} at step {self.step})"


def _diverged(cfg, trainer, count):
    """The message of a run stopped by MAX_SKIPPED_IN_A_ROW; the state is not saved (the last
    checkpoint is the last good one: skipped steps do not change the weights)."""
    saved = list_checkpoints(cfg.save_checkpoint_path, cfg.save_checkpoint_name)
    last = f"the last checkpoint, {saved[-1]}, is the last good state" if saved else "no checkpoint was written"
    return (f"stopped at step {trainer.step}: {count} steps in a row skipped for non-finite gradients (loss scale "
            f"now {trainer.loss_scale:g}); check the training data for NaN/Inf or extreme values, and lower the "
            f"learning rates (lr_g, lr_d) or loss_scale; {last}")


def _write_checkpoint(path, write, nbytes, previous=None):
    """write() the checkpoint `path`; an OSError (a full disk, a folder gone read-only) becomes one
    OutputError line naming the file and the reason, with the space needed for ENOSPC (`nbytes()`,
    computed only then). The write is atomic (src.fileio): no temp file stays, an older checkpoint is
    untouched."""
    try:
        write()
    except OSError as e:
        reason = e.strerror or str(e)
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            free = shutil.disk_usage(os.path.dirname(os.path.abspath(path))).free
            reason += f": the checkpoint needs about {nbytes() / 2**20:.0f} MB, {free / 2**20:.0f} MB free there"
        kept = f"; the previous checkpoint {previous} is intact" if previous else ""
        raise OutputError(f"{path}: cannot write the checkpoint ({reason}){kept}") from None


def save(trainer, cfg):
    """`{save_checkpoint_name}-{epoch}_{step}.ckpt` of the trainer's state, then keep_checkpoint_max."""
    path = os.path.join(cfg.save_checkpoint_path, checkpoint_name(cfg.save_checkpoint_name, trainer.epoch,
                                                                  trainer.step))
    older = list_checkpoints(cfg.save_checkpoint_path, cfg.save_checkpoint_name)
    _write_checkpoint(path, lambda: trainer.save(path), trainer.checkpoint_bytes, older[-1] if older else None)
    prune_checkpoints(cfg.save_checkpoint_path, cfg.save_checkpoint_name, cfg.keep_checkpoint_max)
    return path


def train(cfg, trainer=None, on_step=None):
    """Train as `cfg` says; returns the trainer. `trainer`: a MelGANTrainer to continue from its
    current state (its own networks and losses; `cfg` gives the loop's keys), else the zoo's
    networks are built from `cfg`. `on_step(trainer, (loss_G, loss_D))` runs after every step (loss_D
    is NaN in a warm-up step, where D does not run; the log shows `loss_D=-`).

    SIGTERM or SIGINT during the loop stops it after the current step with a checkpoint (StopRequest);
    `trainer.stop_signal` is then that signal's number (None otherwise), for train.py's exit status."""
    features = check_config(cfg)
    rank_id, group_size = init_context(cfg)
    is_main = rank_id == 0
    if is_main and cfg.device_target == "CPU":
        print(cpu_dispatch.startup_line(), flush=True)
    dataset = create_dataset(cfg.data_path, cfg.batch_size, cfg.train_length, features.hop, rank_id, group_size,
                             cfg.num_workers, cfg.seed, shuffle=True, repeat=1, start_epoch=0,
                             gta_mel_path=cfg.gta_mel_path, mel_noise_std=cfg.mel_noise_std, n_mels=features.n_mels)
    steps_per_epoch = dataset.get_dataset_size()
    total_steps = cfg.max_steps if cfg.max_steps else cfg.epoch_size * steps_per_epoch
    resume = read_checkpoint(cfg.checkpoint_path) if cfg.pre_trained else None
    if resume is not None:
        check_settings(resume, cfg.checkpoint_path, ModelSettings.from_config(cfg))
    start_step = trainer.step if trainer is not None else 0
    if resume is not None and is_training_checkpoint(resume):
        start_step = int(scalar(resume, "step", 0))
    if start_step >= total_steps:
        raise ConfigError(f"{cfg.checkpoint_path if resume is not None else 'trainer'}: already at step "
                          f"{start_step}, nothing left to train (raise --max_steps or --epoch_size)")
    curve = None
    if is_main:
        check_writable(cfg.save_checkpoint_path, "checkpoints (save_checkpoint_path)")
        if cfg.tensorboard:
            tensorboard_log.check_available()
        for prefix in (cfg.save_checkpoint_name + "-", LearningCurve.FILE):
            for name in remove_stale_temps(cfg.save_checkpoint_path, prefix):
                print(f"removed {name}: left by a save that was interrupted", flush=True)
        if cfg.eval_every:
            if not os.path.isdir(val_path(cfg)):
                raise ConfigError(f"{val_path(cfg)}: validation folder for --eval_every not found (--val_data_path)")
            curve = LearningCurve(val_path(cfg), cfg.save_checkpoint_path, start_step, features, cfg.metrics)

    if trainer is None:
        ms.set_seed(cfg.seed)
        np.random.seed(cfg.seed)
        trainer = MelGANTrainer(cfg, group_size)
    if resume is not None:
        mode = trainer.restore(cfg.checkpoint_path, resume)
        del resume  # up to ~1 GB: not kept through training
        if is_main:
            print(f"{'resuming' if mode == 'resume' else 'fine-tuning'} from {cfg.checkpoint_path}"
                  + (f" at epoch {trainer.epoch}, step {trainer.step}" if mode == "resume" else ""), flush=True)
    if is_main:
        print(f"training on {cfg.device_target} ({group_size} device{'s' if group_size > 1 else ''}, amp "
              f"{trainer.amp_level}, {cfg.context_mode} mode): {steps_per_epoch} steps/epoch, "
              f"batch {cfg.batch_size}, train_length {cfg.train_length}, until step {total_steps}", flush=True)
        if trainer.warmup_steps:
            print(f"generator warm-up: steps 1..{trainer.warmup_steps} train G on the spectral loss alone "
                  f"(D not run, loss_D=-); {'in warm-up' if trainer.in_warmup else 'warm-up done'} at step "
                  f"{trainer.step}", flush=True)
        if curve is not None:
            scores = ("log-mel L1, STOI, PESQ, estimated MOS (reference: " + _fmt_score(curve.mos_ref) + ")"
                      if curve.level == "all" else "log-mel L1 (--metrics fast)")
            print(f"learning curve: {len(curve.clips)} val clip(s) from {val_path(cfg)} every {cfg.eval_every} "
                  f"steps -> {curve.path}; scores {scores}", flush=True)
        if cfg.tensorboard:
            logdir = tensorboard_log.folder(cfg)
            print(f"tensorboard: event files in {logdir}; view with `tensorboard --logdir {logdir}`", flush=True)
    try:
        with StopRequest() as stop, tensorboard_log.open_log(cfg, is_main) as board:
            _loop(cfg, trainer, dataset, total_steps, curve, (rank_id, group_size), on_step, stop, board)
    except RuntimeError as e:  # bad data met by the pipeline: one line naming the file
        error = dataset_error_in(e)
        if error is None:
            raise
        raise error from None
    trainer.stop_signal = (stop.signum or signal.SIGTERM) if stop.requested else None
    return trainer


def _loop(cfg, trainer, dataset, total_steps, curve, rank, on_step, stop, board):
    """`board`: the TensorBoardLog (rank 0, when on) or None."""
    rank_id, group_size = rank
    is_main = rank_id == 0
    steps_per_epoch = dataset.get_dataset_size()
    # Where to continue: the epoch holding the next step, skipping the batches already trained on
    # (windows depend only on (seed, epoch, index), so the skipped batches are the ones seen before).
    start_epoch = max(1, trainer.step // steps_per_epoch + 1)
    skip = trainer.step - (start_epoch - 1) * steps_per_epoch
    set_epoch(dataset, start_epoch - 1)
    epochs_left = -(-(total_steps - trainer.step + skip) // steps_per_epoch)
    iterator = dataset.create_tuple_iterator(num_epochs=epochs_left, output_numpy=True)
    clock = TrainClock(trainer)
    progress = Progress(total_steps, trainer.step, is_main)
    best = BestGenerator(cfg, curve) if curve is not None else None

    def evaluate():
        with clock.paused():
            warm = trainer.warmup_steps and trainer.step <= trainer.warmup_steps
            row = curve.evaluate(trainer.generator, trainer.step, "warm-up" if warm else "adversarial",
                                 trainer.cpu_seconds)
            if board is not None:
                board.evaluation(trainer.step, row, curve)
        best.offer(trainer, row["log_mel_l1"])
        progress.log(f"eval step {trainer.step} train_cpu={row['train_cpu_seconds']:.0f}s "
                     f"log_mel_l1={_fmt_score(row['log_mel_l1'])} stoi={_fmt_score(row['stoi'])} "
                     f"pesq_wb={_fmt_score(row['pesq_wb'])} mos_est={_fmt_score(row['mos_est'])} (DNSMOS estimate)")

    run_start, step_start, skipped_start, last_saved = time.time(), trainer.step, trainer.skipped, None
    skipped_in_a_row = 0
    losses = (float("nan"), float("nan"))
    shown_d = None
    if curve is not None and trainer.step == 0:
        evaluate()
    out_of_budget = False
    for epoch in range(start_epoch, start_epoch + epochs_left):
        trainer.epoch = epoch
        tick = time.time()
        for i, batch in enumerate(iterator):
            if epoch == start_epoch and i < skip:
                continue
            skipped_before = trainer.skipped
            losses = trainer.train_step(*(ms.Tensor(x) for x in batch))
            skipped_in_a_row = skipped_in_a_row + 1 if trainer.skipped > skipped_before else 0
            if skipped_in_a_row >= MAX_SKIPPED_IN_A_ROW:
                progress.close()
                raise DivergedError(_diverged(cfg, trainer, skipped_in_a_row))
            shown_d = None if trainer.step <= trainer.warmup_steps else losses[1]  # warm-up: D did not run
            clock.tick()
            out_of_budget = bool(cfg.max_train_cpu_seconds) and trainer.cpu_seconds >= cfg.max_train_cpu_seconds
            now = time.time()
            seconds, tick = now - tick, now
            progress.update(losses[0], shown_d)
            if trainer.step % cfg.log_every == 0:  # every rank logs its own shard's losses (as the zoo)
                progress.log(f"{epoch}epoch {trainer.step}iter loss_G={losses[0]:.6f} "
                             f"loss_D={_fmt_loss(shown_d)} {seconds:.2f}s/it")
                if board is not None:
                    board.train_step(trainer, losses[0], shown_d, seconds)
            if curve is not None and (trainer.step % cfg.eval_every == 0 or out_of_budget
                                      or trainer.step >= total_steps):
                evaluate()
            if is_main and trainer.step % cfg.save_steps == 0:
                last_saved = save(trainer, cfg)
                if board is not None:  # what a checkpoint resumes from is in the log too
                    board.flush()
            if on_step is not None:
                on_step(trainer, losses)
            if trainer.step >= total_steps or out_of_budget or stop.agreed(group_size):
                break
        if trainer.step >= total_steps or out_of_budget or stop.requested:
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
              f"step {trainer.step}, last loss_G={_fmt_loss(losses[0])} loss_D={_fmt_loss(shown_d)}, loss scale "
              f"{trainer.loss_scale:g}, {trainer.skipped - skipped_start} skipped (non-finite) steps; "
              f"checkpoint {last_saved}{best.describe() if best is not None else ''}", flush=True)
    if stop.requested:
        if is_main:
            print(f"stopped by {stop.name} at step {trainer.step}: checkpoint {last_saved}; resume with "
                  f"--pre_trained True --checkpoint_path {last_saved}", flush=True)
        else:
            print(f"rank {rank_id} stopped by {stop.name} at step {trainer.step} (rank 0 writes the checkpoint)",
                  flush=True)
