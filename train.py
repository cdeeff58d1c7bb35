"""Train MelGAN (SPEC §4) on CPU, GPU or Ascend, single device or data parallel.

    python train.py --data_path DATASET/train --save_checkpoint_path OUT [--key value ...]
    python train.py --pre_trained True --checkpoint_path OUT/melgan-3_1200.ckpt   # resume / fine-tune

Logs the zoo's line `{epoch}epoch {iter}iter loss_G=.. loss_D=.. ..s/it` (iter counts all epochs),
writes `{save_checkpoint_name}-{epoch}_{step}.ckpt` every `save_steps` and at the end (rank 0 only).
Any problem with the input stops with one line naming the file or key, before training starts.
"""
import os
import sys
import tempfile
import time

os.environ.setdefault("GLOG_v", "3")  # MindSpore's deprecation warnings would bury the log lines

import numpy as np  # noqa: E402
import mindspore as ms  # noqa: E402

from src import cpu_dispatch  # noqa: E402
from src.audio import AudioError  # noqa: E402
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
        (cfg.hop_size == 256, "hop_size must be 256 (the generator upsamples by 8*8*2*2)"),
        (bool(cfg.save_checkpoint_name) and "/" not in cfg.save_checkpoint_name,
         "save_checkpoint_name must be a plain file name prefix"),
    ]
    for ok, message in checks:
        if not ok:
            raise ValueError(f"config: {message} (see config.yaml)")
    if cfg.pre_trained and not os.path.isfile(cfg.checkpoint_path):
        raise ValueError(f"{cfg.checkpoint_path}: checkpoint to resume from not found (--checkpoint_path)")


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

    progress = Progress(total_steps, trainer.step, is_main)
    run_start, step_start, last_saved = time.time(), trainer.step, None
    losses = (float("nan"), float("nan"))
    for epoch in range(start_epoch, start_epoch + epochs_left):
        trainer.epoch = epoch
        tick = time.time()
        for i, batch in enumerate(iterator):
            if epoch == start_epoch and i < skip:
                continue
            losses = trainer.train_step(*(ms.Tensor(x) for x in batch))
            now = time.time()
            seconds, tick = now - tick, now
            progress.update(*losses)
            if trainer.step % cfg.log_every == 0:  # every rank logs its own shard's losses (as the zoo)
                progress.log(f"{epoch}epoch {trainer.step}iter loss_G={losses[0]:.6f} "
                             f"loss_D={losses[1]:.6f} {seconds:.2f}s/it")
            if is_main and trainer.step % cfg.save_steps == 0:
                last_saved = save(trainer, cfg)
            if trainer.step >= total_steps:
                break
        if trainer.step >= total_steps:
            break
    progress.close()
    if is_main:
        if last_saved is None or not last_saved.endswith(checkpoint_name("", trainer.epoch, trainer.step)):
            last_saved = save(trainer, cfg)
        steps = trainer.step - step_start
        elapsed = time.time() - run_start
        print(f"done: {steps} steps in {elapsed:.1f}s ({elapsed / max(steps, 1):.2f}s/it), epoch {trainer.epoch}, "
              f"step {trainer.step}, last loss_G={losses[0]:.6f} loss_D={losses[1]:.6f}, loss scale "
              f"{trainer.loss_scale:g}, {trainer.skipped} skipped (non-finite) steps; "
              f"checkpoint {last_saved}", flush=True)


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
