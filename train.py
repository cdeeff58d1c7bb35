"""Train MelGAN (SPEC §4) on CPU, GPU or Ascend, single device or data parallel.

    python train.py --data_path DATASET/train --save_checkpoint_path OUT [--key value ...]
    python train.py --pre_trained True --checkpoint_path OUT/melgan-3_1200.ckpt   # resume / fine-tune

Logs the zoo's line `{epoch}epoch {iter}iter loss_G=.. loss_D=.. ..s/it` (iter counts all epochs),
writes `{save_checkpoint_name}-{epoch}_{step}.ckpt` every `save_steps` and at the end (rank 0 only).
During `generator_warmup_steps` only G trains (spectral loss), and loss_D is logged as `-`.
`--eval_every N` copy-synthesizes the val set (DATASET/val against DATASET/val_wav) every N steps
and writes `learning_curve.csv` beside the checkpoints (docs/training_recipes.md).
Any problem with the input stops with one `error:` line naming the file or key, before the networks
are built. SIGTERM or SIGINT (Ctrl-C) stops training after the current step with a checkpoint and a
`stopped by SIGTERM at step N: checkpoint PATH; resume with ...` line, exit status 128 + the signal
(143, 130), as a shell reports a process the signal ended; a second signal exits at once.
The loop itself is src/training.py.
"""
import os

os.environ.setdefault("GLOG_v", "3")  # MindSpore's deprecation warnings would bury the log lines

from src.cli import run_main  # noqa: E402
from src.model_utils.config import get_config  # noqa: E402
from src.model_utils.moxing_adapter import moxing_wrapper  # noqa: E402
from src.training import check_config, train  # noqa: E402


def run(cfg, trainer=None):
    """The loop inside ModelArts' copy-in/copy-out (a no-op elsewhere); `trainer`: see src.training.train."""
    check_config(cfg)  # before ModelArts copies the dataset in
    return moxing_wrapper(config=cfg)(train)(cfg, trainer)


def main(argv=None):
    cfg = run_main(lambda: get_config(argv))
    trainer = run_main(lambda: run(cfg),
                       interrupted=f"interrupted: resume with --pre_trained True --checkpoint_path <the newest "
                                   f"{cfg.save_checkpoint_name}-*.ckpt in {cfg.save_checkpoint_path}>")
    signum = getattr(trainer, "stop_signal", None)
    if signum:  # stopped by SIGTERM/SIGINT with a checkpoint (src.training.StopRequest)
        raise SystemExit(128 + signum)


if __name__ == "__main__":
    main()
