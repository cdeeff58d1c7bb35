"""Training you can leave running (issue #20): a SIGTERM/SIGINT stops after the step with a
checkpoint that resumes exactly, and the log reads right.

A real SIGTERM to a train.py process on the zoo's networks is tests/test_train_py.py; exact resume
after a stop is checked here in-process on the shared small trainer (conftest's `shared_trainer`),
the signal sent to this process from `on_step`, between two steps, as a scheduler's would arrive.
"""
import csv
import os
import re
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

from src.checkpoint import read_checkpoint, scalar
from src.training import train as train_loop
from tests.trainers import TINY, log_lines

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, GLOG_v="3", PYTHONPATH=ROOT)


def test_stop_signal_saves_and_resumes_exactly(shared_trainer, dataset, tmp_path, capsys, graph_mode):
    def config(out, *extra):
        return shared_trainer.config("--data_path", str(dataset / "train"), "--max_steps", "4", "--save_steps", "100",
                                     "--save_checkpoint_path", str(out), *extra)

    straight = train_loop(config(tmp_path / "straight"), shared_trainer.fresh())
    assert straight.stop_signal is None
    lines = log_lines(capsys.readouterr().out)

    handlers = []

    def terminate_at_3(trainer, _losses):
        if trainer.step == 3:
            os.kill(os.getpid(), signal.SIGTERM)  # handled before the loop checks: stops after step 3
            handlers.append(signal.getsignal(signal.SIGTERM))

    before = signal.getsignal(signal.SIGTERM)
    stopped = train_loop(config(tmp_path / "stopped"), shared_trainer.fresh(), on_step=terminate_at_3)
    out = capsys.readouterr().out
    path = tmp_path / "stopped" / "melgan-1_3.ckpt"
    assert stopped.stop_signal == signal.SIGTERM and stopped.step == 3
    assert handlers == [signal.SIG_DFL]  # a second signal would end the process at once
    assert signal.getsignal(signal.SIGTERM) == before  # the loop's handler is gone after it
    assert out.splitlines()[-1] == (f"stopped by SIGTERM at step 3: checkpoint {path}; resume with --pre_trained "
                                    f"True --checkpoint_path {path}")
    assert "done: 3 steps" in out and os.listdir(tmp_path / "stopped") == [path.name]
    assert scalar(read_checkpoint(path), "step") == 3

    train_loop(config(tmp_path / "stopped", "--pre_trained", "True", "--checkpoint_path", str(path)),
               shared_trainer.fresh())
    resumed = log_lines(capsys.readouterr().out)
    assert [line[:4] for line in resumed] == [line[:4] for line in lines[3:]]
    np.testing.assert_array_equal(float(resumed[-1][2]), float(lines[-1][2]))


def test_best_generator_is_kept_and_read_back_on_resume(shared_trainer, dataset, tmp_path, capsys, graph_mode):
    from src.model import load_generator  # pylint: disable=import-outside-toplevel

    out = tmp_path / "out"

    def config(steps, *extra):
        return shared_trainer.config("--data_path", str(dataset / "train"), "--max_steps", str(steps), "--save_steps",
                                     "1", "--keep_checkpoint_max", "1", "--eval_every", "1",
                                     "--metrics", "fast", "--save_checkpoint_path", str(out), *extra)  # fast: log-mel L1, the criterion

    weights = {}

    def record(trainer, _losses):
        weights[trainer.step] = trainer.generator.conv1d_1.conv.weight.asnumpy().copy()

    trainer = shared_trainer.fresh()
    weights[0] = trainer.generator.conv1d_1.conv.weight.asnumpy().copy()
    train_loop(config(2), trainer, on_step=record)
    done = [line for line in capsys.readouterr().out.splitlines() if line.startswith("done:")][0]
    with open(out / "learning_curve.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    curve = {int(r["step"]): float(r["log_mel_l1"]) for r in rows}
    best_step = min(curve, key=curve.get)
    best = out / "melgan-best.ckpt"
    assert done.endswith(f"; best: {best} (log-mel L1 {curve[best_step]:.4f} at step {best_step})"), done
    assert sorted(os.listdir(out)) == ["learning_curve.csv", "melgan-1_2.ckpt", "melgan-best.ckpt"]  # not pruned
    generator = load_generator(str(best))  # generator only, with its settings
    np.testing.assert_array_equal(generator.conv1d_1.conv.weight.asnumpy(), weights[best_step])

    # A resumed run whose curve says step 1 scored far better: its later, worse point keeps that file.
    for row in rows:
        row["log_mel_l1"] = "0.001" if row["step"] == "1" else row["log_mel_l1"]
    with open(out / "learning_curve.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    before = best.read_bytes()
    train_loop(config(3, "--pre_trained", "True", "--checkpoint_path", str(out / "melgan-1_2.ckpt")),
               shared_trainer.fresh())
    done = [line for line in capsys.readouterr().out.splitlines() if line.startswith("done:")][0]
    assert done.endswith(f"; best: {best} (log-mel L1 0.0010 at step 1)"), done
    assert best.read_bytes() == before


def test_nonfinite_mel_stops_naming_the_file_from_a_worker_process(dataset, tmp_path):
    """Two dataset workers (separate processes): the worker's DatasetError still ends train.py with
    one `error:` line naming the file. Every mel is bad, so that the first batch meets one (no step
    compiles)."""
    data = tmp_path / "train"
    shutil.copytree(dataset / "train", data)
    for bad in (data / "mel").iterdir():
        mel = np.load(bad)
        mel[:, :] = np.inf
        np.save(bad, mel)
    done = subprocess.run([sys.executable, os.path.join(ROOT, "train.py"), "--data_path", str(data), *TINY,
                           "--num_workers", "2", "--max_steps", "6", "--save_checkpoint_path", str(tmp_path / "out")],
                          env=ENV, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr[-3000:]
    assert done.stderr.strip().count("\n") == 0 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert re.match(rf"error: {re.escape(str(data / 'mel'))}/utt\d+\.npy: non-finite value \(NaN or Inf\) in mel "
                    r"frame \d+; recompute it with preprocess.py or remove the pair from the dataset$", done.stderr), \
        done.stderr


def test_a_run_of_skipped_steps_stops_keeping_the_last_checkpoint(shared_trainer, dataset, tmp_path, monkeypatch,
                                                                  capsys, graph_mode):
    from src import training  # pylint: disable=import-outside-toplevel
    from src.trainer import _assign  # pylint: disable=import-outside-toplevel

    monkeypatch.setattr(training, "MAX_SKIPPED_IN_A_ROW", 3)
    trainer = shared_trainer.fresh()
    _assign(trainer.scaler_g.scale_value, 3e38)  # the scaled loss overflows: every step is skipped
    _assign(trainer.scaler_d.scale_value, 3e38)
    out = tmp_path / "out"
    with pytest.raises(training.DivergedError) as stop:
        train_loop(shared_trainer.config("--data_path", str(dataset / "train"), "--max_steps", "10", "--save_steps",
                                         "2", "--save_checkpoint_path", str(out)), trainer)
    message = str(stop.value)
    assert message.startswith("stopped at step 3: 3 steps in a row skipped for non-finite gradients"), message
    assert "lr_g" in message and f"the last checkpoint, {out / 'melgan-1_2.ckpt'}, is the last good state" in message
    assert os.listdir(out) == ["melgan-1_2.ckpt"] and "\n" not in message
    capsys.readouterr()


def test_a_full_disk_stops_naming_the_checkpoint_and_keeps_the_previous(shared_trainer, dataset, tmp_path, capsys,
                                                                        graph_mode):
    """A real ENOSPC: the checkpoint folder is a tmpfs (mounting needs root) with room for one
    checkpoint of the small trainer (52 MB) but not two; the second save fails."""
    from src.errors import OutputError  # pylint: disable=import-outside-toplevel

    trainer = shared_trainer.fresh()
    size = trainer.checkpoint_bytes()
    out = tmp_path / "disk"
    out.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={int(size * 1.5)}", "tmpfs", str(out)],
                             capture_output=True, check=False).returncode == 0
    if not mounted:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        with pytest.raises(OutputError) as stop:
            train_loop(shared_trainer.config("--data_path", str(dataset / "train"), "--max_steps", "3", "--save_steps",
                                             "1", "--save_checkpoint_path", str(out)), trainer)
        message = str(stop.value)
        first = out / "melgan-1_1.ckpt"
        assert message == (f"{out / 'melgan-1_2.ckpt'}: cannot write the checkpoint (No space left on device: the "
                           f"checkpoint needs about {size / 2**20:.0f} MB, "
                           f"{shutil.disk_usage(out).free / 2**20:.0f} MB free there); the previous checkpoint "
                           f"{first} is intact"), message
        assert os.listdir(out) == [first.name]  # no temp file left
        assert scalar(read_checkpoint(first), "step") == 1
    finally:
        subprocess.run(["umount", str(out)], check=False)
    capsys.readouterr()
