"""ModelArts: with enable_modelarts, data_url is copied to data_path before training and the
checkpoints to train_url after it, through moxing. moxing exists only inside ModelArts, so a
stand-in module with the same `moxing.file.copy_parallel(src, dst)` (local copies) takes its place.

The copy-train-copy order is tested in-process through train.py's `run` (the config check, then
moxing_wrapper around src.training.train) with the shared small trainer; train.py runs once as a
command, without moxing, to show that it stops in one line.
"""
import os
import shutil
import subprocess
import sys
import types

import train
from src.checkpoint import read_checkpoint, scalar
from tests.corpus import make_train_folder

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _stand_in_moxing():
    """Stand-in for ModelArts' moxing: copy_parallel copies a folder tree (or one file) locally."""
    def copy_parallel(src_url, dst_url):
        print(f"moxing stand-in: copy_parallel {src_url} -> {dst_url}", flush=True)
        if os.path.isdir(src_url):
            shutil.copytree(src_url, dst_url, dirs_exist_ok=True)
        else:
            os.makedirs(os.path.dirname(dst_url) or ".", exist_ok=True)
            shutil.copy2(src_url, dst_url)
    return types.SimpleNamespace(file=types.SimpleNamespace(copy_parallel=copy_parallel))


def test_data_in_and_checkpoints_out(shared_trainer, tmp_path, monkeypatch, capsys, graph_mode):
    monkeypatch.setitem(sys.modules, "moxing", _stand_in_moxing())
    monkeypatch.setenv("JOB_ID", f"test-{os.getpid()}-{tmp_path.name}")  # a fresh copy lock per test run
    obs_data = make_train_folder(tmp_path / "obs" / "dataset", [9000, 10000], seed=2)
    cache = tmp_path / "cache"
    cfg = shared_trainer.config("--enable_modelarts", "True", "--data_url", obs_data, "--data_path", str(cache / "data"),
                            "--train_url", str(tmp_path / "obs" / "output"), "--save_checkpoint_path",
                            str(cache / "ckpt"), "--max_steps", "1")
    train.run(cfg, shared_trainer.fresh())
    out = capsys.readouterr().out
    # order: data copied in, then training, then the outputs copied out
    assert out.index(f"copy_parallel {obs_data} -> {cache / 'data'}") < out.index("1epoch 1iter") \
        < out.index(f"copy_parallel {cache / 'ckpt'} -> {tmp_path / 'obs' / 'output' / 'ckpt'}")
    assert sorted(os.listdir(cache / "data" / "wav")) == ["utt000.wav", "utt001.wav"]
    copied = tmp_path / "obs" / "output" / "ckpt" / "melgan-1_1.ckpt"
    assert scalar(read_checkpoint(copied), "step") == 1


def test_without_moxing_stops_with_one_line(tmp_path):
    env = dict(os.environ, GLOG_v="3", PYTHONPATH=ROOT)
    done = subprocess.run([sys.executable, os.path.join(ROOT, "train.py"), "--enable_modelarts", "True",
                           "--data_url", str(tmp_path), "--data_path", str(tmp_path / "d")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.startswith("error: ") and "moxing" in done.stderr and done.stderr.strip().count("\n") == 0, \
        done.stderr
