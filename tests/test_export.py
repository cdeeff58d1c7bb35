"""export.py: MINDIR (fixed and dynamic frame axis) and ONNX round trips, and its failure modes."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import mindspore as ms

import export
from src.model_utils.config import get_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOL = 1e-4


@pytest.fixture(scope="module")
def ckpt(zoo_ckpt):
    return zoo_ckpt


@pytest.fixture(scope="module")
def generator(zoo_generator):
    return zoo_generator


def run_export(*args, cwd):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, os.path.join(ROOT, "export.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def one_line_error(result, *fragments):
    """Non-zero exit, stderr is exactly one `error: ...` line holding every fragment, no traceback."""
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(("error: ", "config error: ")), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def mel(frames, seed=3):
    return np.random.default_rng(seed).uniform(-1.3, 1.0, size=(1, 80, frames)).astype(np.float32)


def export_cfg(tmp_path, ckpt, *extra):
    return get_config(["--checkpoint_path", ckpt, "--file_name", str(tmp_path / "melgan"), *extra])


def test_mindir_fixed_round_trip(tmp_path, ckpt, generator):
    # (no --verify: it would run the comparison below once more; the seed-command test runs it on a MINDIR)
    path = export.export(export_cfg(tmp_path, ckpt, "--file_format", "MINDIR"))
    assert path == str(tmp_path / "melgan.mindir")
    graph = ms.nn.GraphCell(ms.load(path))
    x = mel(240)
    got = graph(ms.Tensor(x)).asnumpy()
    assert got.shape == (1, 1, 240 * 256)
    assert np.max(np.abs(got - generator(ms.Tensor(x)).asnumpy())) <= TOL
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp") or ".tmp." in n]


def test_mindir_dynamic_frame_axis_round_trip(tmp_path, ckpt, generator):
    path = export.export(export_cfg(tmp_path, ckpt, "--dynamic_length", "True"))
    graph = ms.nn.GraphCell(ms.load(path))
    for frames in (240, 97):
        x = mel(frames, seed=frames)
        got = graph(ms.Tensor(x)).asnumpy()
        assert got.shape == (1, 1, frames * 256)
        assert np.max(np.abs(got - generator(ms.Tensor(x)).asnumpy())) <= TOL


def test_onnx_round_trip_through_onnxruntime(tmp_path, ckpt, generator):
    import onnxruntime

    # (no --verify: test_settings and test_feature_settings export ONNX with it)
    path = export.export(export_cfg(tmp_path, ckpt, "--file_format", "ONNX", "--eval_length", "64"))
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape == ["N", 80, "T"]  # the direct graph: frame axis dynamic
    for frames in (64, 23):
        x = mel(frames)
        got = session.run(None, {session.get_inputs()[0].name: x})[0]
        assert got.shape == (1, 1, frames * 256)
        assert np.max(np.abs(got - generator(ms.Tensor(x)).asnumpy())) <= TOL


def test_seed_command_line_and_aliases(tmp_path, ckpt):
    # The seed's command, plus --model_name and a bare --verify.
    result = run_export("--format", "MINDIR", "--checkpoint_path", ckpt, "--model_name", "gen", "--verify",
                        cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "verify: 240 frames" in result.stdout
    assert (tmp_path / "gen.mindir").stat().st_size > 1_000_000


def test_air_without_ascend_is_one_line(tmp_path, ckpt):
    one_line_error(run_export("--format", "AIR", "--checkpoint_path", ckpt, cwd=tmp_path), "AIR", "Ascend")
    # asking for Ascend on a machine without it
    one_line_error(run_export("--format", "AIR", "--device_target", "Ascend", "--checkpoint_path", ckpt, cwd=tmp_path),
                   "Ascend", "CPU build")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("args,fragments", [
    (["--format", "TFLITE"], ["--format", "TFLITE"]),
    (["--eval_length", "0"], ["eval_length"]),
    (["--eval_length", "many"], ["--eval_length", "many"]),
    (["--format", "AIR", "--dynamic_length", "True"], ["dynamic", "MINDIR and ONNX"]),
])
def test_wrong_config_value_is_one_line(tmp_path, ckpt, args, fragments):
    one_line_error(run_export("--checkpoint_path", ckpt, *args, cwd=tmp_path), *fragments)
    assert not list(tmp_path.iterdir())


def test_missing_and_corrupt_checkpoint_name_the_file(tmp_path):
    one_line_error(run_export("--checkpoint_path", str(tmp_path / "nope.ckpt"), cwd=tmp_path), "nope.ckpt", "not found")
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"\x08\x01garbage" * 100)
    one_line_error(run_export("--checkpoint_path", str(bad), cwd=tmp_path), str(bad), "damaged")
    assert not list(tmp_path.glob("*.mindir"))


def test_unwritable_output_path_is_one_line(tmp_path, ckpt):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    # A path under a regular file cannot be created, even by root.
    one_line_error(run_export("--checkpoint_path", ckpt, "--model_name", str(blocker / "melgan"), cwd=tmp_path),
                   str(blocker), "cannot write")


def test_kill_mid_export_leaves_previous_file_and_rerun_works(tmp_path, ckpt):
    final = tmp_path / "melgan.mindir"
    final.write_bytes(b"previous model")
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "export.py"), "--checkpoint_path", ckpt],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout.readline().startswith("CPU: ")  # the start-up line (src/cpu_dispatch.py)
    line = proc.stdout.readline()
    if line.startswith("model settings: "):  # what the checkpoint expects, said at load
        line = proc.stdout.readline()
    assert line.startswith("exporting"), line  # printed right before the export starts writing
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert final.read_bytes() == b"previous model"  # never a half-written file under the final name

    result = run_export("--checkpoint_path", ckpt, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert final.stat().st_size > 1_000_000
    ms.nn.GraphCell(ms.load(str(final)))  # a whole model (--verify's comparison: the seed-command test)
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp") or ".tmp." in n]  # stale temp files cleaned


def test_translate_argv_maps_seed_flags():
    assert export.translate_argv(["--format=ONNX", "--model_name", "x", "--verify"]) == \
        ["--file_format=ONNX", "--file_name", "x", "--verify", "True"]
    assert export.translate_argv(["--verify", "--format", "AIR"]) == ["--verify", "True", "--file_format", "AIR"]
