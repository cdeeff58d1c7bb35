"""Training (issue #4, reliability #7): the loop's log, checkpoints and exact resume, loss scaling,
fine-tuning, killed saves, and bad input stopping in one line before any network is built.

The loop (src.training.train) is tested in-process on the shared small trainer (conftest's
`shared_trainer`: the zoo's generator, a narrow discriminator, the recipe options with a 2-step
warm-up, compiled once); train.py on the zoo's networks and recipe, as users run it, is
tests/test_train_py.py.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn, ops

import train
from src import training
from src.checkpoint import read_checkpoint, save_checkpoint, scalar
from src.errors import CheckpointError, UserError
from src.fileio import remove_stale_temps
from src.model import Generator
from src.training import train as train_loop
from tests.damage import KINDS, damage_file
from tests.trainers import TINY, log_lines

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, GLOG_v="3", PYTHONPATH=ROOT)


def run_train_py(args, timeout=600, **env):
    return subprocess.run([sys.executable, os.path.join(ROOT, "train.py"), *args], env=dict(ENV, **env), cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def _loop_config(shared_trainer, dataset, out, *extra):
    return shared_trainer.config("--data_path", str(dataset / "train"), "--max_steps", "4", "--save_steps", "2",
                             "--save_checkpoint_path", str(out), *extra)


def test_loop_logs_saves_and_resumes_exactly(shared_trainer, dataset, tmp_path, capsys, graph_mode):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    train_loop(_loop_config(shared_trainer, dataset, straight), shared_trainer.fresh())
    out = capsys.readouterr().out
    lines = log_lines(out)
    assert [(e, i) for e, i, *_ in lines] == [("1", "1"), ("1", "2"), ("1", "3"), ("2", "4")], out
    # steps 1-2 are the warm-up (G alone: loss_D=-), 3-4 train G and D
    assert all(np.isfinite(float(g)) for _, _, g, _, _ in lines)
    assert [d == "-" for _, _, _, d, _ in lines] == [True, True, False, False]
    assert all(np.isfinite(float(d)) for _, _, _, d, _ in lines[2:])
    assert "done: 4 steps" in out and "0 skipped" in out
    assert sorted(os.listdir(straight)) == ["melgan-1_2.ckpt", "melgan-2_4.ckpt"]
    at2, at4 = read_checkpoint(straight / "melgan-1_2.ckpt"), read_checkpoint(straight / "melgan-2_4.ckpt")
    assert (scalar(at2, "epoch"), scalar(at2, "step"), scalar(at4, "epoch"), scalar(at4, "step")) == (1, 2, 2, 4)
    assert (scalar(at4, "loss_scale"), scalar(at4, "loss_scale_counter"), scalar(at4, "loss_scale_counter_d")) == (
        1024.0, 4, 2)
    assert scalar(at4, "train_cpu_seconds") > scalar(at2, "train_cpu_seconds") > 0
    for name in ("conv1d_1.conv.weight", "dis1.conv7.conv.weight"):
        assert not np.array_equal(at2[name].asnumpy(), at4[name].asnumpy()), f"{name} did not train"
    assert float(np.abs(at4["optimizer_d.moment2.dis1.conv2.0.conv.weight"].asnumpy()).max()) > 0

    # As a run killed after its first checkpoint leaves it: that checkpoint and a temp file of the
    # next save. Resuming removes the temp file and trains steps 3-4 to the same numbers.
    resumed.mkdir()
    shutil.copy(straight / "melgan-1_2.ckpt", resumed)
    (resumed / ".melgan-2_4.ckpt.k1ll3d.tmp.ckpt").write_bytes(b"half a checkpoint")
    train_loop(_loop_config(shared_trainer, dataset, resumed, "--keep_checkpoint_max", "1", "--pre_trained", "True",
                            "--checkpoint_path", str(resumed / "melgan-1_2.ckpt")), shared_trainer.fresh())
    out = capsys.readouterr().out
    assert "removed .melgan-2_4.ckpt.k1ll3d.tmp.ckpt: left by a save that was interrupted" in out
    assert "resuming from" in out and "at epoch 1, step 2" in out and "warm-up done at step 2" in out
    assert [line[:4] for line in log_lines(out)] == [line[:4] for line in lines[2:]]
    assert sorted(os.listdir(resumed)) == ["melgan-2_4.ckpt"]  # keep_checkpoint_max 1
    again = read_checkpoint(resumed / "melgan-2_4.ckpt")
    for name in ("rses_4.block3.4.conv.weight", "dis1.conv5.0.conv.weight", "optimizer_g.moment1.conv1d_2.conv.weight",
                 "optimizer_d.moment2.dis1.conv2.0.conv.weight", "optimizer_g.beta1_power", "optimizer_d.global_step"):
        np.testing.assert_array_equal(again[name].asnumpy(), at4[name].asnumpy(), err_msg=name)


def test_nonfinite_gradients_skip_the_step_and_lower_the_scale(shared_trainer, graph_mode):
    trainer = shared_trainer.fresh()
    rng = np.random.default_rng(0)

    def batch():
        return [ms.Tensor(rng.uniform(-0.5, 0.5, shape).astype(np.float32)) for shape in [(2, 80, 8), (2, 1, 2048)] * 2]

    def state():
        return [p.asnumpy().copy() for p in (trainer.generator.conv1d_1.conv.weight, trainer.opt_g.moment1[0],
                                             trainer.discriminator.dis1.conv1[1].conv.weight, trainer.opt_d.moment2[0],
                                             trainer.opt_g.global_step, trainer.opt_d.global_step)]

    for _ in range(trainer.warmup_steps):  # past the warm-up: the D step runs too
        trainer.train_step(*batch())
    before, skipped = state(), trainer.skipped
    bad = batch()
    bad[0][0, 3, 2] = np.inf    # the generator's input: loss_G and its gradients are not finite
    bad[3][0, 0, 100] = np.nan  # the discriminator's real input: loss_D too
    loss_g, loss_d = trainer.train_step(*bad)
    assert not np.isfinite(loss_g) and not np.isfinite(loss_d)
    assert trainer.skipped - skipped == 2
    assert trainer.loss_scale == 512.0 and float(trainer.scaler_d.scale_value.asnumpy()) == 512.0
    for old, new in zip(before, state()):
        np.testing.assert_array_equal(old, new)
    # the next good step trains again, at the lowered scale
    loss_g, loss_d = trainer.train_step(*batch())
    assert np.isfinite(loss_g) and np.isfinite(loss_d) and trainer.skipped - skipped == 2
    assert not np.array_equal(trainer.generator.conv1d_1.conv.weight.asnumpy(), before[0])


def test_generator_only_checkpoint_loads_for_finetuning(shared_trainer, dataset, tmp_path, capsys, graph_mode):
    ms.set_seed(3)
    public = Generator(0.2)
    path = tmp_path / "melgan_20-215_176000.ckpt"
    ms.save_checkpoint(public, str(path))  # the zoo's public file: generator only, plain names, no CRC
    trainer = shared_trainer.fresh()
    d_before = trainer.discriminator.dis1.conv2[0].conv.weight.asnumpy().copy()
    assert trainer.restore(str(path)) == "finetune"
    np.testing.assert_array_equal(trainer.generator.rses_2.shortcut3.conv.weight.asnumpy(),
                                  public.rses_2.shortcut3.conv.weight.asnumpy())
    np.testing.assert_array_equal(trainer.discriminator.dis1.conv2[0].conv.weight.asnumpy(), d_before)
    assert trainer.step == 0 and trainer.epoch == 1

    train_loop(shared_trainer.config("--data_path", str(dataset / "train"), "--max_steps", "1",
                                     "--save_checkpoint_path", str(tmp_path / "out"), "--pre_trained", "True",
                                     "--checkpoint_path", str(path)),
               shared_trainer.fresh())
    out = capsys.readouterr().out
    assert f"fine-tuning from {path}" in out and "1epoch 1iter" in out
    assert os.listdir(tmp_path / "out") == ["melgan-1_1.ckpt"]


def test_missing_optimizer_state_is_refused_before_anything_loads(shared_trainer, tmp_path):
    trainer = shared_trainer.fresh()
    missing = "optimizer_d.moment1.dis1.conv4.0.conv.bias"
    items = [item for item in trainer.checkpoint_items() if item["name"] != missing]
    path = tmp_path / "partial.ckpt"
    save_checkpoint(items, str(path), append_dict={"epoch": 1, "step": 3})
    ms.set_seed(9)
    other = Generator(0.2)
    trainer.generator.conv1d_1.conv.weight.set_data(other.conv1d_1.conv.weight.data)
    with pytest.raises(CheckpointError, match=r"partial\.ckpt.*" + re.escape(missing)):
        trainer.restore(str(path))
    np.testing.assert_array_equal(trainer.generator.conv1d_1.conv.weight.asnumpy(), other.conv1d_1.conv.weight.asnumpy())
    assert trainer.step == 0


KILLED_SAVER = """
import sys
sys.path.insert(0, {root!r})
from tests.trainers import small_trainer
trainer = small_trainer([])
step = 5
while True:
    trainer.step = step
    print("saving", step, flush=True)
    trainer.save({path!r})
    step += 1
"""


def _temp_files(folder):
    try:
        return [entry.name for entry in os.scandir(folder) if ".tmp" in entry.name]
    except FileNotFoundError:
        return []


def test_kill_during_saving_leaves_the_previous_checkpoint(tmp_path):
    """A process saving checkpoints in a loop is stopped (SIGSTOP) while a temp file exists, i.e.
    inside a save, then killed: the checkpoint holds the save before, complete and CRC-valid."""
    path = tmp_path / "melgan-1_5.ckpt"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_SAVER.format(root=ROOT, path=str(path))],
                            stdout=subprocess.PIPE, text=True, env=ENV)
    try:
        assert proc.stdout.readline().split() == ["saving", "5"]
        deadline = time.time() + 120
        caught = False
        while not caught and proc.poll() is None and time.time() < deadline:
            if path.exists() and _temp_files(tmp_path):
                proc.send_signal(signal.SIGSTOP)
                os.waitpid(proc.pid, os.WUNTRACED)  # returns once the child is stopped
                caught = bool(_temp_files(tmp_path))  # still inside that save: kill it there
                if not caught:
                    proc.send_signal(signal.SIGCONT)
            else:
                time.sleep(0.002)
        assert caught, "never caught a save under way"
        proc.kill()
        proc.wait()
        saving = [int(line.split()[1]) for line in proc.stdout.read().splitlines() if line.startswith("saving")]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    interrupted = saving[-1] if saving else 5
    assert interrupted > 5
    assert scalar(read_checkpoint(path), "step") == interrupted - 1  # the save before the killed one
    leftovers = sorted(_temp_files(tmp_path))
    assert leftovers and remove_stale_temps(str(tmp_path), "melgan-") == leftovers
    assert os.listdir(tmp_path) == [path.name]


@pytest.fixture
def no_networks(monkeypatch):
    """Make building the networks an error: bad input must be found before."""
    def refuse(*args, **kwargs):
        raise AssertionError("networks built before the input was checked")
    monkeypatch.setattr(training, "MelGANTrainer", refuse)


def _bad_setups(tmp_path, dataset):
    empty = tmp_path / "empty"
    (empty / "wav").mkdir(parents=True)
    (empty / "mel").mkdir()
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    finished = tmp_path / "melgan-9_9.ckpt"
    save_checkpoint([{"name": "optimizer_g.global_step", "data": ms.Tensor(np.zeros(1, np.int32))}], str(finished),
                    append_dict={"epoch": 9, "step": 9})
    ok = ["--data_path", str(dataset / "train"), *TINY, "--save_checkpoint_path", str(tmp_path / "out")]
    return {
        "missing data": ([*ok, "--data_path", str(tmp_path / "nowhere")], "nowhere"),
        "empty dataset": ([*ok, "--data_path", str(empty)], "empty"),
        "batch > dataset": ([*ok, "--batch_size", "7"], "batch_size 7"),
        "unwritable save path": ([*ok, "--save_checkpoint_path", str(blocker / "ckpt")], "cannot write"),
        "wrong value": ([*ok, "--train_length", "0"], "train_length"),
        "wrong amp level": ([*ok, "--amp_level", "O1"], "amp_level"),
        "wrong type": ([*ok, "--batch_size", "two"], "batch_size"),
        "unknown key": ([*ok, "--bach_size", "2"], "bach_size"),
        "wrong feature": ([*ok, "--hop_size", "200"], "hop_size"),
        "device the build lacks": ([*ok, "--device_target", "Ascend"], "device_target Ascend"),
        "warm-up without spectral loss": ([*ok, "--generator_warmup_steps", "3"], "generator_warmup_steps needs"),
        "missing val folder": ([*ok, "--eval_every", "2", "--val_data_path", str(tmp_path / "noval")], "noval"),
        "curve without scores": ([*ok, "--eval_every", "2", "--metrics", "none"], "metrics must be fast or all"),
        "missing resume file": ([*ok, "--pre_trained", "True", "--checkpoint_path", str(tmp_path / "gone.ckpt")],
                                "gone.ckpt"),
        "nothing left to train": ([*ok, "--max_steps", "9", "--pre_trained", "True", "--checkpoint_path",
                                   str(finished)], "already at step 9"),
    }


@pytest.mark.parametrize("case", ["missing data", "empty dataset", "batch > dataset", "unwritable save path",
                                  "wrong value", "wrong amp level", "wrong type", "unknown key", "wrong feature",
                                  "device the build lacks", "warm-up without spectral loss", "missing val folder",
                                  "curve without scores", "missing resume file", "nothing left to train"])
def test_bad_input_stops_with_one_line_before_the_networks(tmp_path, dataset, case, no_networks, graph_mode):
    argv, expected = _bad_setups(tmp_path, dataset)[case]
    with pytest.raises(SystemExit) as stop:
        train.main(argv)
    message = str(stop.value.code)
    assert message.startswith("error: ") and expected in message and "\n" not in message, message
    assert not (tmp_path / "out").exists() or not os.listdir(tmp_path / "out")


@pytest.mark.parametrize("how", KINDS)
def test_damaged_resume_checkpoint_is_named(tmp_path, dataset, how, no_networks, graph_mode):
    path = tmp_path / f"melgan-{how}.ckpt"
    ms.set_seed(0)
    save_checkpoint(Generator(0.2), str(path))
    damage_file(path, how)
    with pytest.raises(SystemExit) as stop:
        train.main(["--data_path", str(dataset / "train"), *TINY, "--save_checkpoint_path", str(tmp_path / "out"),
                    "--pre_trained", "True", "--checkpoint_path", str(path)])
    message = str(stop.value.code)
    assert message.startswith("error: ") and str(path) in message and "\n" not in message, message


def test_only_user_errors_become_one_line(monkeypatch, capsys):
    """A bug (ours or MindSpore's) keeps its traceback; train.py catches only src.errors.UserError,
    and Ctrl-C, which says how to resume."""
    def fail(error):
        def run(cfg):
            raise error
        return run

    monkeypatch.setattr(train, "run", fail(RuntimeError("framework bug")))
    with pytest.raises(RuntimeError, match="framework bug"):
        train.main([])
    monkeypatch.setattr(train, "run", fail(ValueError("framework bug")))
    with pytest.raises(ValueError, match="framework bug"):
        train.main([])
    monkeypatch.setattr(train, "run", fail(UserError("x.ckpt: damaged")))
    with pytest.raises(SystemExit, match="^error: x.ckpt: damaged$"):
        train.main([])
    monkeypatch.setattr(train, "run", fail(KeyboardInterrupt()))
    with pytest.raises(SystemExit) as stop:
        train.main(["--save_checkpoint_path", "runs/a"])
    assert stop.value.code == 130
    assert capsys.readouterr().err == ("interrupted: resume with --pre_trained True --checkpoint_path <the newest "
                                       "melgan-*.ckpt in runs/a>\n")


# GLOG_v 2 (MindSpore's warnings): the device check's own warnings stay out of the one line
@pytest.mark.parametrize("args, expected, glog", [(["--data_path", "nowhere"], "nowhere", "3"),
                                                  (["--device_target", "Ascend"], "device_target Ascend", "2")])
def test_command_line_prints_one_line_no_traceback(tmp_path, args, expected, glog):
    done = run_train_py([*TINY, "--save_checkpoint_path", str(tmp_path / "out"), *args], timeout=120, GLOG_v=glog)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and expected in done.stderr and "Traceback" not in done.stderr, \
        done.stderr


def test_lean_leaky_relu_matches_nn_leaky_relu(shared_trainer):
    """The CPU training LeakyReLU (src.trainer._LeakyReLU, no Maximum-gradient index buffers) gives
    bit-identical values and the same gradient away from x == 0; MelGANTrainer uses it on CPU."""
    from src.trainer import use_lean_leaky_relu  # pylint: disable=import-outside-toplevel

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

    trainer = shared_trainer.trainer
    kinds = {type(c).__name__ for net in (trainer.generator, trainer.discriminator)
             for _, c in net.cells_and_names() if isinstance(c, nn.LeakyReLU)}
    assert kinds == {"_LeakyReLU"}
