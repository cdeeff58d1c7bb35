"""Recipe options (issue #13): the zoo's recipe when they are off, the generator warm-up step, resume
across the warm-up/adversarial boundary, the CPU-time budget and the learning curve.

In-process on the shared small trainer (conftest's `shared_trainer`: the options on, 2 warm-up
steps); the zoo's recipe trains to its recorded numbers in test_train's end-to-end train.py run.
"""
import csv

import mindspore as ms
import numpy as np
import pytest

from src.checkpoint import read_checkpoint, scalar
from src.errors import ConfigError
from src.model_utils.config import get_config
from src.trainer import MelGANTrainer
from src.training import train
from tests.trainers import log_lines, small_trainer


def test_options_off_build_the_zoo_recipe():
    trainer = small_trainer([])
    assert trainer.g_warm_step is None and trainer.g_step.loss_net.spectral is None
    assert not trainer.g_step.loss_net.loss.scale_adv and trainer.g_step.loss_net.loss.feat_weight == 10.0


def test_warmup_needs_a_spectral_loss():
    with pytest.raises(ConfigError, match="generator_warmup_steps needs"):
        MelGANTrainer(get_config(["--generator_warmup_steps", "3"]))


def _batches(seed, count, batch=2, frames=8):
    rng = np.random.default_rng(seed)
    return [[ms.Tensor(rng.uniform(-0.5, 0.5, s).astype(np.float32)) for s in [(batch, 80, frames),
                                                                                (batch, 1, frames * 256)] * 2]
            for _ in range(count)]


def _d_state(trainer):
    return ([p.asnumpy().copy() for p in trainer.discriminator.get_parameters()]
            + [m.asnumpy().copy() for m in trainer.opt_d.moment1] + [trainer.opt_d.global_step.asnumpy().copy()])


def test_warmup_steps_update_the_generator_only(shared_trainer, graph_mode):
    trainer = shared_trainer.fresh()
    assert trainer.warmup_steps == 2
    g_before = trainer.generator.conv1d_1.conv.weight.asnumpy().copy()
    d_before = _d_state(trainer)
    warm1, warm2, adversarial = _batches(1, 3)
    for step, batch in ((1, warm1), (2, warm2)):
        assert trainer.in_warmup
        loss_g, loss_d = trainer.train_step(*batch)
        assert np.isfinite(loss_g) and np.isnan(loss_d) and trainer.step == step
    assert not trainer.in_warmup
    assert not np.array_equal(trainer.generator.conv1d_1.conv.weight.asnumpy(), g_before)
    for old, new in zip(d_before, _d_state(trainer)):
        np.testing.assert_array_equal(old, new)
    loss_g, loss_d = trainer.train_step(*adversarial)  # adversarial now: D trains too
    assert np.isfinite(loss_g) and np.isfinite(loss_d)
    assert not np.array_equal(trainer.discriminator.dis1.conv1[1].conv.weight.asnumpy(), d_before[0])


def _train(shared_trainer, dataset, out, capsys, *extra):
    cfg = shared_trainer.config("--data_path", str(dataset / "train"), "--eval_every", "2", "--max_steps", "4",
                             "--save_steps", "4", "--save_checkpoint_path", str(out), *extra)
    train(cfg, shared_trainer.fresh())
    stdout = capsys.readouterr().out
    return stdout, [line[1:4] for line in log_lines(stdout)]


def _curve(path):
    with open(path, newline="") as f:
        return {int(r["step"]): r for r in csv.DictReader(f)}


def test_resume_across_the_warmup_boundary_equals_an_uninterrupted_run(shared_trainer, dataset, tmp_path, capsys,
                                                                       graph_mode):
    straight, split = tmp_path / "straight", tmp_path / "split"
    out, lines = _train(shared_trainer, dataset, straight, capsys)
    assert "generator warm-up: steps 1..2" in out and "scores log-mel L1, STOI, PESQ, estimated MOS" in out
    assert [i for i, *_ in lines] == ["1", "2", "3", "4"]
    assert [d == "-" for _, _, d in lines] == [True, True, False, False], lines
    curve = _curve(straight / "learning_curve.csv")
    assert sorted(curve) == [0, 2, 4] and [curve[s]["phase"] for s in (0, 2, 4)] == ["warm-up", "warm-up",
                                                                                       "adversarial"]
    for row in curve.values():
        assert 0 < float(row["log_mel_l1"]) < 20 and 0 < float(row["mos_est_ref"]) < 5  # DNSMOS rates a tone ~1
    assert float(curve[0]["train_cpu_seconds"]) == 0 < float(curve[2]["train_cpu_seconds"]) < float(
        curve[4]["train_cpu_seconds"])
    assert curve[0]["log_mel_l1"] != curve[2]["log_mel_l1"] != curve[4]["log_mel_l1"]  # it scores the current G

    # The CPU-time budget stops it after its first step, inside the warm-up. (Scored on log-mel L1
    # alone from here: DNSMOS and PESQ cost ~1 s of CPU per clip and evaluation.)
    out, _ = _train(shared_trainer, dataset, split, capsys, "--max_train_cpu_seconds", "0.001", "--metrics", "fast")
    assert "scores log-mel L1 (--metrics fast)" in out
    assert "stopped at step 1: " in out
    first = read_checkpoint(split / "melgan-1_1.ckpt")
    assert scalar(first, "step") == 1 and scalar(first, "train_cpu_seconds") > 0
    del first
    out, resumed = _train(shared_trainer, dataset, split, capsys, "--pre_trained", "True",
                          "--checkpoint_path", str(split / "melgan-1_1.ckpt"), "--metrics", "fast")
    assert "in warm-up at step 1" in out
    assert resumed == lines[1:]  # step 2 warm-up, 3-4 adversarial: the same losses to the last digit
    a, b = read_checkpoint(straight / "melgan-2_4.ckpt"), read_checkpoint(split / "melgan-2_4.ckpt")
    for name in ("conv1d_1.conv.weight", "rses_4.block3.4.conv.weight", "dis1.conv7.conv.weight",
                 "optimizer_d.moment2.dis1.conv2.0.conv.weight", "optimizer_g.moment1.conv1d_2.conv.weight",
                 "optimizer_g.beta2_power"):
        np.testing.assert_array_equal(a[name].asnumpy(), b[name].asnumpy())
    resumed_curve = _curve(split / "learning_curve.csv")
    assert sorted(resumed_curve) == [0, 1, 2, 4]
    for step in (2, 4):
        assert resumed_curve[step]["log_mel_l1"] == curve[step]["log_mel_l1"]
        assert resumed_curve[step]["stoi"] == resumed_curve[step]["mos_est"] == resumed_curve[step]["mos_est_ref"] == ""
