"""TensorBoard event files of a training run (`tensorboard: True`, docs/training.md): rank 0 writes them
to `save_checkpoint_path/tensorboard/`, viewable with `tensorboard --logdir OUT/tensorboard`.

    train/loss_G, train/loss_D, train/loss_spectral,     every log_every steps, as the log line (loss_D
    train/loss_scale_G, train/loss_scale_D,              and loss_scale_D not in the warm-up, where D
    train/step_seconds                                   does not run; loss_spectral when configured)
    val/log_mel_l1, val/stoi, val/pesq_wb, val/mos_est   at every learning-curve evaluation (eval_every)
    val/NAME/synthesized (audio), val/NAME/log_mel       the same, for the first CLIPS val clips: the
    (image), val/NAME/reference (audio, once a run)      reference log-mel above the synthesized one

The writer is tensorboardX (small, no TensorFlow), imported only when the log is on. A resumed run adds
an event file to the same folder; TensorBoard merges them by step.
"""
import contextlib
import os
import struct

from src.errors import ConfigError, OutputError
from src.report_page import spectrogram_png

FOLDER = "tensorboard"
CLIPS = 3  # val clips shown as audio and pictures: enough to listen to, and each picture takes ~0.3 s to draw
VAL_METRICS = ("log_mel_l1", "stoi", "pesq_wb", "mos_est")


def check_available():
    """ConfigError (one line) when tensorboardX cannot be imported: found before the networks are built."""
    try:
        import tensorboardX  # noqa: F401  # pylint: disable=import-outside-toplevel,unused-import
    except ImportError as e:
        raise ConfigError(f"config: tensorboard True needs the tensorboardX package ({e}); install it "
                          f"(requirements.txt) or set --tensorboard False") from None


def folder(cfg):
    return os.path.join(cfg.save_checkpoint_path, FOLDER)


def open_log(cfg, is_main):
    """The run's TensorBoardLog as a context that closes it on every way out (end, stop signal, error), so
    that what was logged is on disk; a context giving None when the log is off or this is not rank 0."""
    if not (cfg.tensorboard and is_main):
        return contextlib.nullcontext()
    return TensorBoardLog(folder(cfg))


class TensorBoardLog:
    """One event file; summaries are queued and written by tensorboardX's thread, so a step pays ~nothing."""

    def __init__(self, path):
        from tensorboardX import FileWriter  # pylint: disable=import-outside-toplevel

        try:
            self.writer = FileWriter(path)
        except OSError as e:
            raise OutputError(f"{path}: cannot write the TensorBoard log there ({e.strerror or e})") from None
        self.references_shown = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def scalars(self, step, values):
        """One scalar per (tag, value); a None value (not measured) is left out."""
        from tensorboardX.summary import scalar  # pylint: disable=import-outside-toplevel

        for tag, value in values.items():
            if value is not None:
                self.writer.add_summary(scalar(tag, value), step)

    def train_step(self, trainer, loss_g, loss_d, seconds):
        """The losses of the step just done (`loss_d` None: D did not run), the loss scales, its wall time."""
        self.scalars(trainer.step, {
            "train/loss_G": loss_g, "train/loss_D": loss_d, "train/loss_spectral": trainer.spectral_loss,
            "train/loss_scale_G": trainer.loss_scale,
            "train/loss_scale_D": None if loss_d is None else trainer.loss_scale_d,
            "train/step_seconds": seconds})

    def evaluation(self, step, row, curve):
        """The learning curve's row, and the audio and log-mel pictures of its first CLIPS clips
        (src.learning_curve.LearningCurve, just evaluated); then flushed."""
        self.scalars(step, {f"val/{key}": row[key] for key in VAL_METRICS})
        features = curve.features
        for name, (_, reference), audio in zip(curve.names[:CLIPS], curve.clips, curve.audio):
            if not self.references_shown:
                self.audio(f"val/{name}/reference", step, reference, features.sample_rate)
            self.audio(f"val/{name}/synthesized", step, audio, features.sample_rate)
            self.image(f"val/{name}/log_mel", step, spectrogram_png(
                features.log_mel(reference), features.log_mel(audio), name, features.log_min))
        self.references_shown = True
        self.flush()

    def audio(self, tag, step, samples, sample_rate):
        from tensorboardX.summary import audio  # pylint: disable=import-outside-toplevel

        self.writer.add_summary(audio(tag, samples, sample_rate), step)

    def image(self, tag, step, png):
        """A PNG as it is (tensorboardX's add_image would want pixels, and encode them again)."""
        from tensorboardX.proto.summary_pb2 import Summary  # pylint: disable=import-outside-toplevel

        width, height, _, color_type = struct.unpack(">IIBB", png[16:26])  # the IHDR chunk, first in every PNG
        channels = {0: 1, 2: 3, 4: 2, 6: 4}[color_type]  # grey, RGB, grey + alpha, RGBA (matplotlib's)
        image = Summary.Image(height=height, width=width, colorspace=channels, encoded_image_string=png)
        self.writer.add_summary(Summary(value=[Summary.Value(tag=tag, image=image)]), step)

    def flush(self):
        self.writer.flush()

    def close(self):
        self.writer.close()
