"""ModelArts: with enable_modelarts, data_url is copied to data_path before training and the
checkpoints to train_url after it, through moxing. moxing exists only inside ModelArts, so a
stand-in module with the same `moxing.file.copy_parallel(src, dst)` (local copies) is put on the path.
"""
import os
import subprocess
import sys

from src.checkpoint import read_checkpoint, scalar
from tests.corpus import make_train_folder

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

STAND_IN = '''
"""Stand-in for ModelArts' moxing: copy_parallel copies a folder tree (or one file) locally."""
import os
import shutil


class file:  # moxing.file
    @staticmethod
    def copy_parallel(src_url, dst_url):
        print(f"moxing stand-in: copy_parallel {src_url} -> {dst_url}", flush=True)
        if os.path.isdir(src_url):
            shutil.copytree(src_url, dst_url, dirs_exist_ok=True)
        else:
            os.makedirs(os.path.dirname(dst_url) or ".", exist_ok=True)
            shutil.copy2(src_url, dst_url)
'''


def _run(args, tmp_path, with_moxing=True):
    stand_in = tmp_path / "stand_in"
    stand_in.mkdir(exist_ok=True)
    if with_moxing:
        (stand_in / "moxing.py").write_text(STAND_IN)
    env = dict(os.environ, GLOG_v="3", PYTHONPATH=os.pathsep.join([str(stand_in), ROOT]),
               JOB_ID=f"test-{os.getpid()}-{tmp_path.name}")
    return subprocess.run([sys.executable, os.path.join(ROOT, "train.py"), *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)


def test_data_in_and_checkpoints_out(tmp_path):
    obs_data = make_train_folder(tmp_path / "obs" / "dataset", [9000, 10000], seed=2)
    cache = tmp_path / "cache"
    done = _run(["--enable_modelarts", "True", "--data_url", obs_data, "--data_path", str(cache / "data"),
                 "--train_url", str(tmp_path / "obs" / "output"), "--save_checkpoint_path", str(cache / "ckpt"),
                 "--train_length", "8", "--batch_size", "1", "--num_workers", "1", "--max_steps", "1"], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    # order: data copied in, then training, then the outputs copied out
    assert out.index(f"copy_parallel {obs_data} -> {cache / 'data'}") < out.index("1epoch 1iter") \
        < out.index(f"copy_parallel {cache / 'ckpt'} -> {tmp_path / 'obs' / 'output' / 'ckpt'}")
    assert sorted(os.listdir(cache / "data" / "wav")) == ["utt000.wav", "utt001.wav"]
    copied = tmp_path / "obs" / "output" / "ckpt" / "melgan-1_1.ckpt"
    assert scalar(read_checkpoint(copied), "step") == 1


def test_without_moxing_stops_with_one_line(tmp_path):
    done = _run(["--enable_modelarts", "True", "--data_url", str(tmp_path), "--data_path", str(tmp_path / "d")],
                tmp_path, with_moxing=False)
    assert done.returncode == 1
    assert "moxing" in done.stderr and done.stderr.strip().count("\n") == 0, done.stderr
