"""Training (issue #4, reliability #7): steps, loss scaling, checkpoints, exact resume, bad input.

Kept small: train_length 8, batch 1-2, a few steps. The 78 M-parameter discriminator still makes a
full training checkpoint ~1 GB and the first step ~15-25 s (graph compile).
"""
import os
import re
import signal
import subprocess
import sys
import time

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn, ops

import train
from src.checkpoint import CheckpointError, read_checkpoint, save_checkpoint, scalar
from src.model import Generator
from src.model_utils.config import get_config
from src.trainer import (MelGANTrainer, list_checkpoints, prune_checkpoints, remove_stale_temp_files,
                         use_lean_leaky_relu)
from tests.corpus import make_train_folder
from tests.damage import damage_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOG_LINE = re.compile(r"^(\d+)epoch (\d+)iter loss_G=(\S+) loss_D=(\S+) (\d+\.\d\d)s/it$")
TINY = ["--train_length", "8", "--batch_size", "2", "--num_workers", "1", "--seed", "5"]


@pytest.fixture(scope="module")
def train_dir(tmp_path_factory):
    # 5 utterances, batch 2, drop remainder: 2 steps per epoch, so 4 steps cross an epoch boundary.
    return make_train_folder(tmp_path_factory.mktemp("train"), [9000, 12000, 8000, 15000, 10000], seed=1)


@pytest.fixture
def restore_mode():
    """train.main and the trainer switch this process to graph mode; give other tests theirs back."""
    mode = ms.get_context("mode")
    yield
    ms.set_context(mode=mode)


def run_train(args, **kw):
    env = dict(os.environ, GLOG_v="3", PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, os.path.join(ROOT, "train.py"), *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=kw.pop("timeout", 600), **kw)


def log_lines(stdout):
    return [m.groups() for m in map(LOG_LINE.match, stdout.splitlines()) if m]


def test_train_checkpoints_and_resume_after_kill_are_exact(train_dir, tmp_path):
    common = ["--data_path", train_dir, *TINY, "--max_steps", "4", "--save_steps", "2"]
    straight, killed = tmp_path / "straight", tmp_path / "killed"

    done = run_train([*common, "--save_checkpoint_path", str(straight)])
    assert done.returncode == 0, done.stderr[-3000:]
    lines = log_lines(done.stdout)
    assert [(e, i) for e, i, *_ in lines] == [("1", "1"), ("1", "2"), ("2", "3"), ("2", "4")], done.stdout
    assert all(np.isfinite(float(g)) and np.isfinite(float(d)) for _, _, g, d, _ in lines)
    assert "done: 4 steps" in done.stdout and "0 skipped" in done.stdout
    assert sorted(os.listdir(straight)) == ["melgan-1_2.ckpt", "melgan-2_4.ckpt"]
    at2, at4 = read_checkpoint(straight / "melgan-1_2.ckpt"), read_checkpoint(straight / "melgan-2_4.ckpt")
    assert (scalar(at2, "epoch"), scalar(at2, "step"), scalar(at4, "epoch"), scalar(at4, "step")) == (1, 2, 2, 4)
    assert scalar(at4, "loss_scale") == 1024.0
    for name in ("conv1d_1.conv.weight", "dis3.conv7.conv.weight"):
        assert not np.array_equal(at2[name].asnumpy(), at4[name].asnumpy()), f"{name} did not train"
    assert float(np.abs(at4["optimizer_d.moment2.dis1.conv2.0.conv.weight"].asnumpy()).max()) > 0
    final_g = at4["rses_4.block3.4.conv.weight"].asnumpy()
    del at2, at4

    # kill -9 after the first checkpoint, then resume from it: the same losses as the straight run.
    env = dict(os.environ, GLOG_v="3", PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "train.py"), *common, "--save_checkpoint_path",
                             str(killed)], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 400
    while not (killed / "melgan-1_2.ckpt").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    assert (killed / "melgan-1_2.ckpt").exists() and not (killed / "melgan-2_4.ckpt").exists()

    resumed = run_train([*common, "--save_checkpoint_path", str(killed), "--keep_checkpoint_max", "1",
                         "--pre_trained", "True", "--checkpoint_path", str(killed / "melgan-1_2.ckpt")])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming from" in resumed.stdout and "at epoch 1, step 2" in resumed.stdout
    assert log_lines(resumed.stdout)[0][:4] == lines[2][:4] and log_lines(resumed.stdout)[1][:4] == lines[3][:4]
    assert sorted(os.listdir(killed)) == ["melgan-2_4.ckpt"]  # keep_checkpoint_max 1, no temp files left
    np.testing.assert_array_equal(read_checkpoint(killed / "melgan-2_4.ckpt")["rses_4.block3.4.conv.weight"].asnumpy(),
                                  final_g)


def test_nonfinite_gradients_skip_the_step_and_lower_the_scale(restore_mode):
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_seed(0)
    trainer = MelGANTrainer(get_config(["--train_length", "8"]))
    rng = np.random.default_rng(0)

    def batch():
        return [rng.uniform(-0.5, 0.5, shape).astype(np.float32) for shape in [(1, 80, 8), (1, 1, 2048)] * 2]

    trainer.train_step(*map(ms.Tensor, batch()))
    before = [p.asnumpy().copy() for p in (trainer.generator.conv1d_1.conv.weight, trainer.opt_g.moment1[0],
                                           trainer.discriminator.dis1.conv1[1].conv.weight, trainer.opt_d.moment2[0])]
    steps = (trainer.opt_g.global_step.asnumpy().item(), trainer.opt_d.global_step.asnumpy().item())
    bad = batch()
    bad[0][0, 3, 2] = np.inf    # the generator's input: loss_G and its gradients are not finite
    bad[3][0, 0, 100] = np.nan  # the discriminator's real input: loss_D too
    loss_g, loss_d = trainer.train_step(*map(ms.Tensor, bad))
    assert not np.isfinite(loss_g) and not np.isfinite(loss_d)
    assert trainer.skipped == 2
    assert trainer.loss_scale == 512.0 and float(trainer.scaler_d.scale_value.asnumpy()) == 512.0
    after = [p.asnumpy() for p in (trainer.generator.conv1d_1.conv.weight, trainer.opt_g.moment1[0],
                                   trainer.discriminator.dis1.conv1[1].conv.weight, trainer.opt_d.moment2[0])]
    for old, new in zip(before, after):
        np.testing.assert_array_equal(old, new)
    assert (trainer.opt_g.global_step.asnumpy().item(), trainer.opt_d.global_step.asnumpy().item()) == steps
    # the next good step trains again, at the lowered scale
    loss_g, loss_d = trainer.train_step(*map(ms.Tensor, batch()))
    assert np.isfinite(loss_g) and np.isfinite(loss_d) and trainer.skipped == 2
    assert not np.array_equal(trainer.generator.conv1d_1.conv.weight.asnumpy(), before[0])


def test_generator_only_checkpoint_loads_for_finetuning(tmp_path):
    ms.set_seed(3)
    public = Generator(0.2)
    path = tmp_path / "melgan_20-215_176000.ckpt"
    ms.save_checkpoint(public, str(path))  # the zoo's public file: generator only, plain names, no CRC
    trainer = MelGANTrainer(get_config([]))
    assert trainer.restore(str(path)) == "finetune"
    np.testing.assert_array_equal(trainer.generator.rses_2.shortcut3.conv.weight.asnumpy(),
                                  public.rses_2.shortcut3.conv.weight.asnumpy())
    assert trainer.step == 0 and trainer.epoch == 1


def test_missing_optimizer_state_is_an_error(tmp_path):
    trainer = MelGANTrainer(get_config([]))
    items = [item for item in trainer.checkpoint_items() if item["name"] != "optimizer_d.moment1.dis2.conv4.0.conv.bias"]
    path = tmp_path / "partial.ckpt"
    save_checkpoint(items, str(path), append_dict={"epoch": 1, "step": 3})
    with pytest.raises(CheckpointError, match=r"partial\.ckpt.*optimizer_d\.moment1\.dis2\.conv4\.0\.conv\.bias"):
        MelGANTrainer(get_config([])).restore(str(path))


def test_kill_during_saving_leaves_the_previous_checkpoint(tmp_path):
    path = tmp_path / "melgan-1_5.ckpt"
    script = f"""
import sys
sys.path.insert(0, {ROOT!r})
from src.model_utils.config import get_config
from src.trainer import MelGANTrainer
trainer = MelGANTrainer(get_config([]))
trainer.step = 5
trainer.save({str(path)!r})
print("saved", flush=True)
trainer.step = 6
while True:
    trainer.save({str(path)!r})
"""
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, GLOG_v="3"))
    assert proc.stdout.readline().strip() == "saved"
    deadline = time.time() + 120
    temp = []
    while not temp and time.time() < deadline:  # wait until the second save is half written
        temp = [n for n in os.listdir(tmp_path) if n.endswith(".tmp") and os.path.getsize(tmp_path / n) > 1 << 20]
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert temp, "the save never got under way"
    params = read_checkpoint(path)  # complete, CRC-valid, and still the previous one
    assert scalar(params, "step") == 5
    leftovers = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    assert leftovers and remove_stale_temp_files(str(tmp_path), "melgan") == leftovers
    assert os.listdir(tmp_path) == [path.name]


def test_keep_checkpoint_max_removes_the_oldest(tmp_path):
    for epoch, step in [(1, 10), (2, 20), (3, 30), (3, 40)]:
        (tmp_path / f"melgan-{epoch}_{step}.ckpt").write_bytes(b"x")
    (tmp_path / "other-1_5.ckpt").write_bytes(b"x")
    removed = prune_checkpoints(str(tmp_path), "melgan", 2)
    assert [os.path.basename(p) for p in removed] == ["melgan-1_10.ckpt", "melgan-2_20.ckpt"]
    assert [os.path.basename(p) for p in list_checkpoints(str(tmp_path), "melgan")] == ["melgan-3_30.ckpt",
                                                                                         "melgan-3_40.ckpt"]


def _bad_setups(tmp_path, train_dir):
    empty = tmp_path / "empty"
    (empty / "wav").mkdir(parents=True)
    (empty / "mel").mkdir()
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    ok = ["--data_path", train_dir, *TINY, "--save_checkpoint_path", str(tmp_path / "out")]
    return {
        "missing data": ([*ok, "--data_path", str(tmp_path / "nowhere")], "nowhere"),
        "empty dataset": ([*ok, "--data_path", str(empty)], "empty"),
        "batch > dataset": ([*ok, "--batch_size", "6"], "batch_size 6"),
        "unwritable save path": ([*ok, "--save_checkpoint_path", str(blocker / "ckpt")], "not writable"),
        "wrong value": ([*ok, "--train_length", "0"], "train_length"),
        "wrong amp level": ([*ok, "--amp_level", "O1"], "amp_level"),
        "wrong type": ([*ok, "--batch_size", "two"], "batch_size"),
        "missing resume file": ([*ok, "--pre_trained", "True", "--checkpoint_path", str(tmp_path / "gone.ckpt")],
                                "gone.ckpt"),
    }


@pytest.mark.parametrize("case", ["missing data", "empty dataset", "batch > dataset", "unwritable save path",
                                  "wrong value", "wrong amp level", "wrong type", "missing resume file"])
def test_bad_config_stops_with_one_line(tmp_path, train_dir, case, restore_mode):
    argv, expected = _bad_setups(tmp_path, train_dir)[case]
    with pytest.raises(SystemExit) as stop:
        train.main(argv)
    message = str(stop.value.code)
    assert expected in message and "\n" not in message, message
    assert not (tmp_path / "out").exists() or not os.listdir(tmp_path / "out")


@pytest.mark.parametrize("how", ["empty", "truncated", "garbage", "flipped"])
def test_corrupt_resume_checkpoint_is_named(tmp_path, train_dir, how, restore_mode):
    path = tmp_path / f"melgan-{how}.ckpt"
    ms.set_seed(0)
    save_checkpoint(Generator(0.2), str(path))
    damage_file(path, how)
    with pytest.raises(SystemExit) as stop:
        train.main(["--data_path", train_dir, *TINY, "--save_checkpoint_path", str(tmp_path / "out"),
                    "--pre_trained", "True", "--checkpoint_path", str(path)])
    message = str(stop.value.code)
    assert message.startswith("error: ") and str(path) in message and "\n" not in message, message


def test_entry_point_prints_one_line_no_traceback(tmp_path):
    done = run_train(["--data_path", str(tmp_path / "nowhere"), *TINY, "--save_checkpoint_path", str(tmp_path / "out")],
                     timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "nowhere" in done.stderr and "Traceback" not in done.stderr


def test_lean_leaky_relu_matches_nn_leaky_relu():
    """The CPU training LeakyReLU (src.trainer._LeakyReLU, no Maximum-gradient index buffers) gives
    bit-identical values and the same gradient away from x == 0; MelGANTrainer uses it on CPU."""
    x = np.concatenate([np.random.default_rng(0).normal(size=1000) * 3,
                        [0.0, -0.0, 1e-30, -1e-30, np.inf, -np.inf, 3.4e38, -3.4e38]]).astype(np.float32)
    plain = nn.SequentialCell([nn.LeakyReLU(0.2)])
    lean = use_lean_leaky_relu(nn.SequentialCell([nn.LeakyReLU(0.2)]))
    assert type(lean[0]).__name__ == "_LeakyReLU"
    xt = ms.Tensor(x)
    np.testing.assert_array_equal(lean(xt).asnumpy(), plain(xt).asnumpy())
    nan = lean(ms.Tensor(np.array([np.nan], np.float32))).asnumpy()
    assert np.isnan(nan).all()

    away = ms.Tensor(x[np.isfinite(x) & (x != 0)])
    grad = ops.GradOperation()
    np.testing.assert_array_equal(grad(lean)(away).asnumpy(), grad(plain)(away).asnumpy())

    trainer = MelGANTrainer(get_config(["--train_length", "8", "--batch_size", "1"]))
    kinds = {type(c).__name__ for net in (trainer.generator, trainer.discriminator)
             for _, c in net.cells_and_names() if isinstance(c, nn.LeakyReLU)}
    assert kinds == {"_LeakyReLU"}
