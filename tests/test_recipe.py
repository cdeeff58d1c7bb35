"""Recipe options (issue #13): zoo recipe unchanged when off, the generator warm-up step, resume
across the warm-up/adversarial boundary, and the learning curve. Tiny: train_length 8, batch 1."""
import csv
import os
import re

import mindspore as ms
import numpy as np
import pytest

import train
from src.audio import read_audio, write_wav
from src.features import ZOO
from src.fileio import save_npy
from src.checkpoint import read_checkpoint, scalar
from src.model_utils.config import get_config
from src.trainer import MelGANTrainer
from tests.corpus import make_train_folder

LOSSES = re.compile(r"^\d+epoch (\d+)iter loss_G=(\S+) loss_D=(\S+) ")
FAST = ["--stft_loss_weight", "1.0", "--mel_loss_weight", "2.0", "--adv_weight", "0.5", "--feat_weight", "2.0"]


@pytest.fixture
def restore_mode():
    mode = ms.get_context("mode")
    yield
    ms.set_context(mode=mode)


def _batches(seed, count, batch=1, frames=8):
    rng = np.random.default_rng(seed)
    return [[ms.Tensor(rng.uniform(-0.5, 0.5, s).astype(np.float32)) for s in [(batch, 80, frames),
                                                                                (batch, 1, frames * 256)] * 2]
            for _ in range(count)]


def test_zoo_recipe_unchanged_when_options_are_off(restore_mode):
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_seed(7)
    trainer = MelGANTrainer(get_config(["--train_length", "8", "--batch_size", "1"]))
    assert trainer.g_warm_step is None and trainer.g_step.loss_net.spectral is None
    losses = []
    for batch in _batches(7, 2):
        losses += trainer.train_step(*batch)
    # Recorded with the code before the recipe options existed (commit 3443a57, same seed and
    # batches, this machine): identical there to the last bit.
    np.testing.assert_allclose(losses, [16.720138549804688, 14.008026123046875, 16.4856014251709,
                                        12.149951934814453], rtol=1e-5)
    assert float(np.abs(trainer.generator.conv1d_2.conv.weight.asnumpy()).sum()) == pytest.approx(17.596050262,
                                                                                                  rel=1e-5)
    assert float(np.abs(trainer.discriminator.dis2.conv7.conv.weight.asnumpy()).sum()) == pytest.approx(
        68.177192688, rel=1e-5)


def test_warmup_step_updates_the_generator_only(restore_mode):
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_seed(1)
    trainer = MelGANTrainer(get_config(["--train_length", "8", "--batch_size", "1", *FAST,
                                        "--generator_warmup_steps", "1"]))
    g_before = trainer.generator.conv1d_1.conv.weight.asnumpy().copy()
    d_state = [p.asnumpy().copy() for p in trainer.discriminator.get_parameters()]
    d_state += [m.asnumpy().copy() for m in trainer.opt_d.moment1] + [trainer.opt_d.global_step.asnumpy().copy()]
    batch, second = _batches(1, 2)
    assert trainer.in_warmup
    loss_g, loss_d = trainer.train_step(*batch)
    assert np.isfinite(loss_g) and np.isnan(loss_d) and trainer.step == 1 and not trainer.in_warmup
    assert not np.array_equal(trainer.generator.conv1d_1.conv.weight.asnumpy(), g_before)
    d_after = [p.asnumpy() for p in trainer.discriminator.get_parameters()]
    d_after += [m.asnumpy() for m in trainer.opt_d.moment1] + [trainer.opt_d.global_step.asnumpy()]
    for old, new in zip(d_state, d_after):
        np.testing.assert_array_equal(old, new)
    loss_g, loss_d = trainer.train_step(*second)  # adversarial now: D trains too
    assert np.isfinite(loss_g) and np.isfinite(loss_d)
    assert not np.array_equal(trainer.discriminator.dis1.conv1[1].conv.weight.asnumpy(), d_state[0]) or \
        not all(np.array_equal(a, b) for a, b in zip(d_state, [p.asnumpy() for p in trainer.discriminator.get_parameters()]))


def test_warmup_needs_a_spectral_loss():
    with pytest.raises(ValueError, match="generator_warmup_steps needs"):
        MelGANTrainer(get_config(["--generator_warmup_steps", "3"]))
    with pytest.raises(SystemExit, match="generator_warmup_steps needs"):
        train.main(["--generator_warmup_steps", "3"])


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """preprocess.py's layout: DATASET/train (wav + mel), DATASET/val (mel) and DATASET/val_wav."""
    root = tmp_path_factory.mktemp("ds")
    make_train_folder(root / "train", [9000, 12000, 8000], seed=2)
    (root / "val").mkdir()
    t = np.arange(int(0.7 * 22050)) / 22050.0
    write_wav(str(root / "val_wav" / "v1.wav"), (0.3 * np.sin(2 * np.pi * 200 * t * (1 + 0.3 * t))).astype(np.float32))
    save_npy(str(root / "val" / "v1.npy"), ZOO.log_mel(read_audio(str(root / "val_wav" / "v1.wav"))[0]))
    return root


def _train(dataset, out, capsys, *extra):
    train.main(["--data_path", str(dataset / "train"), "--train_length", "8", "--batch_size", "1",
                "--num_workers", "1", "--seed", "3", *FAST, "--generator_warmup_steps", "2", "--eval_every", "2",
                "--save_checkpoint_path", str(out), *extra])
    stdout = capsys.readouterr().out
    return stdout, [m.groups() for m in map(LOSSES.match, stdout.splitlines()) if m]


def _curve(path):
    with open(path, newline="") as f:
        return {int(r["step"]): r for r in csv.DictReader(f)}


def test_resume_across_the_warmup_boundary_equals_an_uninterrupted_run(dataset, tmp_path, capsys, restore_mode):
    straight, split = tmp_path / "straight", tmp_path / "split"
    out, lines = _train(dataset, straight, capsys, "--max_steps", "4", "--save_steps", "4")
    assert "generator warm-up: steps 1..2" in out
    assert [i for i, *_ in lines] == ["1", "2", "3", "4"]
    assert [d == "nan" for _, _, d in lines] == [True, True, False, False], lines
    curve = _curve(straight / "learning_curve.csv")
    assert sorted(curve) == [0, 2, 4] and [curve[s]["phase"] for s in (0, 2, 4)] == ["warm-up", "warm-up",
                                                                                       "adversarial"]
    for row in curve.values():
        assert 0 < float(row["log_mel_l1"]) < 20 and 0 < float(row["mos_est_ref"]) < 5  # DNSMOS rates a tone ~1
    assert float(curve[0]["train_cpu_seconds"]) == 0 < float(curve[2]["train_cpu_seconds"]) < float(
        curve[4]["train_cpu_seconds"])
    assert curve[0]["log_mel_l1"] != curve[2]["log_mel_l1"] != curve[4]["log_mel_l1"]  # it scores the current G

    # The CPU-time budget stops it after its first step, inside the warm-up.
    out, _ = _train(dataset, split, capsys, "--max_steps", "4", "--save_steps", "4", "--max_train_cpu_seconds", "0.001")
    assert "stopped at step 1: " in out
    first = read_checkpoint(split / "melgan-1_1.ckpt")
    assert scalar(first, "step") == 1 and scalar(first, "train_cpu_seconds") > 0
    del first
    out, resumed = _train(dataset, split, capsys, "--max_steps", "4", "--save_steps", "4", "--pre_trained", "True",
                          "--checkpoint_path", str(split / "melgan-1_1.ckpt"))
    assert "in warm-up at step 1" in out
    assert resumed == lines[1:]  # step 2 warm-up, 3-4 adversarial: the same losses to the last digit
    a, b = read_checkpoint(straight / "melgan-2_4.ckpt"), read_checkpoint(split / "melgan-2_4.ckpt")
    for name in ("conv1d_1.conv.weight", "rses_4.block3.4.conv.weight", "dis1.conv7.conv.weight",
                 "optimizer_d.moment2.dis3.conv2.0.conv.weight", "optimizer_g.moment1.conv1d_2.conv.weight"):
        np.testing.assert_array_equal(a[name].asnumpy(), b[name].asnumpy())
    resumed_curve = _curve(split / "learning_curve.csv")
    assert sorted(resumed_curve) == [0, 1, 2, 4]
    for step in (2, 4):
        assert resumed_curve[step]["log_mel_l1"] == curve[step]["log_mel_l1"]
