"""Trainers for the tests: the zoo's generator with a narrow discriminator, and one compiled trainer
shared by every test that trains in-process.

Why: the zoo's discriminator has 78 M parameters (a ~1 GB training state); DISCRIMINATOR.narrowed(16)
is the same layers, scales and parameter names with 0.3 M. A trainer's first steps compile its
graphs (~20 s whatever the widths), so the tests that train share one trainer, with the recipe
options on and a 2-step warm-up so that it has both phases (G-only warm-up steps, then G and D
steps), and put it back in its initial state with a checkpoint restore (the path a resume takes).
Its discriminator has one scale: the loop, resume and checkpoint tests need a discriminator, not
three (its G and D graphs compile in ~17 s instead of ~25 s); the three scales train in the zoo's
recipe end to end in one train.py run (tests/test_train_py.py) and in tests/test_feature_settings.py.
"""
import dataclasses
import os
import re
import tempfile

from src import cpu_dispatch
from src.architecture import DISCRIMINATOR, GENERATOR
from src.model import Generator, MultiDiscriminator
from src.model_utils.config import get_config
from src.trainer import MelGANTrainer

SMALL_DISCRIMINATOR = DISCRIMINATOR.narrowed(16)
# Shallower still, for tests about how the loop runs rather than what the zoo's networks compute
# (data parallelism): one residual block per stage and one discriminator scale compile in ~7 s
# instead of ~19 s (measured: fewer blocks -6.6 s, one scale -8.4 s).
SHALLOW_GENERATOR = dataclasses.replace(GENERATOR, dilations=(1,))
ONE_SCALE_DISCRIMINATOR = dataclasses.replace(SMALL_DISCRIMINATOR, scales=1)
# batch 2 of 8 frames, one dataset worker
TINY = ["--train_length", "8", "--batch_size", "2", "--num_workers", "1", "--seed", "5"]
# spectral losses, other adversarial/feature weights, and the warm-up (docs/training_recipes.md)
RECIPE = ["--stft_loss_weight", "1.0", "--mel_loss_weight", "2.0", "--adv_weight", "0.5", "--feat_weight", "2.0",
          "--generator_warmup_steps", "2"]
# the zoo's log line; loss_D is `-` in a warm-up step (D not run)
LOSS = r"(-?\d+\.\d{6}|nan|-?inf)"
LOG_LINE = re.compile(rf"^(\d+)epoch (\d+)iter loss_G={LOSS} loss_D=({LOSS[1:-1]}|-) (\d+\.\d\d)s/it$")


def log_lines(stdout):
    """(epoch, iter, loss_G, loss_D, seconds) of each zoo log line in `stdout`, as strings."""
    return [m.groups() for m in map(LOG_LINE.match, stdout.splitlines()) if m]


def small_trainer(argv, group_size=1, shallow=False, one_scale=False):
    """MelGANTrainer for get_config(argv) with the narrow discriminator (`shallow`: SHALLOW_GENERATOR;
    `one_scale`: ONE_SCALE_DISCRIMINATOR)."""
    generator = Generator(arch=SHALLOW_GENERATOR) if shallow else None
    discriminator = MultiDiscriminator(arch=ONE_SCALE_DISCRIMINATOR if one_scale else SMALL_DISCRIMINATOR)
    return MelGANTrainer(get_config(argv), group_size, generator=generator, discriminator=discriminator)


class SharedTrainer:
    """One small trainer and its initial state; `fresh()` returns it as just built."""

    def __init__(self, argv):
        self.argv = list(argv)
        self.trainer = small_trainer(argv, one_scale=True)
        self.folder = tempfile.TemporaryDirectory(prefix="shared_trainer.")
        self.initial = os.path.join(self.folder.name, "initial.ckpt")
        self.trainer.save(self.initial)

    def fresh(self):
        self.trainer.restore(self.initial)
        return self.trainer

    def config(self, *argv):
        """The trainer's config with loop keys (`--max_steps`, paths, ...) added or overridden."""
        return get_config([*self.argv, *argv])

    def close(self):
        self.folder.cleanup()


def fresh_shell_env():
    """This process's environment without any oneDNN ISA setting, as a fresh shell has it."""
    env = dict(os.environ)
    for var in (*cpu_dispatch.ISA_VARIABLES, cpu_dispatch.MARKER):
        env.pop(var, None)
    return env

