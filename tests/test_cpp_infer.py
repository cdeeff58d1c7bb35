"""The C++ app (ascend310_infer/) builds, runs on CPU and matches Python window-mode inference.

The first run fetches the MindSpore Lite C++ SDK (a 168 MB wheel from PyPI) into
ascend310_infer/third_party/ and compiles the app; later runs reuse both.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf

import mindspore as ms

import export
from src.audio import write_wav
from src.features import MelSettings
from src.inference import Vocoder
from src.model import Generator, load_generator, save_generator
from src.settings import ModelSettings
from src.windows import split_windows
from src.model_utils.config import get_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INFER = os.path.join(ROOT, "ascend310_infer")
APP = os.path.join(INFER, "build", "melgan_infer")
FRAMES = {"long_utt": 300, "short": 100}  # 2 windows and 1 (zero-padded) window of 240 frames


def run(cmd, cwd=None, env=None, timeout=600):
    env = dict(os.environ, **(env or {}))
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def one_line_error(result, *fragments):
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def app():
    result = run(["bash", os.path.join(INFER, "build.sh")], timeout=1500)
    assert result.returncode == 0, result.stderr[-3000:]
    assert os.access(APP, os.X_OK)
    return APP


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("cpp_infer")


@pytest.fixture(scope="module")
def generator(zoo_ckpt, zoo_generator):
    return zoo_ckpt, zoo_generator


@pytest.fixture(scope="module")
def model(work, generator):
    """The standard MINDIR export.py gives users, fixed input [1, 80, 240]."""
    return export.export(get_config(["--checkpoint_path", generator[0], "--file_name", str(work / "melgan")]))


@pytest.fixture(scope="module")
def lite_model(work, model):
    """The same model rewritten for the Lite 2.0 runtime (a runtime-compat step, see lite_compat.py),
    which reads MindSpore's protobuf definition without importing MindSpore (~3 s per script run)."""
    path = work / "model_lite.mindir"
    check = ("import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__'); "
             "assert 'mindspore' not in sys.modules, 'imported mindspore'")
    result = run([sys.executable, "-c", check, os.path.join(INFER, "lite_compat.py"), model, str(path)])
    assert result.returncode == 0, result.stderr
    return path


@pytest.fixture(scope="module")
def mels(work):
    folder = work / "mels"
    folder.mkdir()
    rng = np.random.default_rng(5)
    for name, frames in FRAMES.items():
        np.save(folder / f"{name}.npy", rng.uniform(-11.5, 1.5, size=(80, frames)).astype(np.float32))
    return folder


@pytest.fixture(scope="module")
def python_wavs(work, mels, generator):
    """Python window-mode inference (SPEC §5, what eval.py --eval_mode window does)."""
    out = work / "python_wav"
    vocoder = Vocoder(generator[1], mode="window", eval_length=240)
    for name in FRAMES:
        write_wav(str(out / f"{name}.wav"), vocoder(np.load(mels / f"{name}.npy")))
    return out


def read_pcm(path):
    data, rate = sf.read(str(path), dtype="int16")
    assert rate == 22050
    return data.astype(np.int32)


def assert_wavs_match(folder, reference):
    for name, frames in FRAMES.items():
        got, want = read_pcm(folder / f"{name}.wav"), read_pcm(reference / f"{name}.wav")
        assert got.shape == want.shape == (frames * 256,)
        # float outputs agree to ~1e-6; 16-bit rounding may then differ by one step
        assert np.max(np.abs(got - want)) <= 1
        assert np.std(want) > 100  # not silence: the comparison means something


def test_preprocess_writes_the_split_windows(work, mels):
    out = work / "bins"
    result = run([sys.executable, os.path.join(INFER, "preprocess.py"), "--mel_path", str(mels),
                  "--output_path", str(out)])
    assert result.returncode == 0, result.stderr
    meta = json.loads((out / "windows.json").read_text())
    assert meta["eval_length"] == 240
    for name, frames in FRAMES.items():
        windows = split_windows(np.load(mels / f"{name}.npy"))
        assert meta["utterances"][name] == {"frames": frames, "windows": len(windows)}
        for i, window in enumerate(windows):
            raw = np.fromfile(out / f"{name}_{i:03d}.bin", dtype=np.float32)
            np.testing.assert_array_equal(raw, window.ravel())


def test_cpp_app_on_cpu_matches_python(app, work, lite_model, generator, python_wavs):
    bins, results = work / "bins", work / "result_Files"  # bins: written by the test above
    assert sorted(p.name for p in bins.glob("*.bin"))
    result = run([app, f"--mindir_path={lite_model}", f"--input0_path={bins}", "--device_target=CPU",
                  f"--output_path={results}", f"--time_path={work / 'time_Result'}"])
    assert result.returncode == 0, result.stderr
    assert "NN inference cost average time" in result.stdout

    for path in sorted(bins.glob("*.bin")):
        window = np.fromfile(path, dtype=np.float32).reshape(1, 80, 240)
        want = generator[1](ms.Tensor(window)).asnumpy().ravel()
        got = np.fromfile(results / (path.stem + "_0.bin"), dtype=np.float32)
        assert got.shape == want.shape
        assert np.max(np.abs(got - want)) <= 1e-4

    result = run([sys.executable, os.path.join(INFER, "postprocess.py"), "--result_path", str(results),
                  "--meta", str(bins / "windows.json"), "--output_path", str(work / "cpp_wav")])
    assert result.returncode == 0, result.stderr
    assert_wavs_match(work / "cpp_wav", python_wavs)


def test_dynamic_frame_axis_model_in_cpp(app, work, generator, mels, tmp_path):
    """A MINDIR exported with --dynamic_length runs windows of another length (here 100 frames)."""
    model = export.export(get_config(["--checkpoint_path", generator[0], "--file_name", str(tmp_path / "dyn"),
                                      "--dynamic_length", "True"]))
    out = tmp_path / "run"
    result = script(model, mels, "CPU", cwd=tmp_path, env={"INFER_OUTPUT": str(out), "EVAL_LENGTH": "100"})
    assert result.returncode == 0, result.stderr
    reference = tmp_path / "python_wav"
    vocoder = Vocoder(generator[1], mode="window", eval_length=100)
    for name in FRAMES:
        write_wav(str(reference / f"{name}.wav"), vocoder(np.load(mels / f"{name}.npy")))
    assert_wavs_match(out / "wav", reference)


def test_other_sample_rate_and_hop_in_cpp(app, tmp_path):
    """A 24 kHz, hop-300 model: the exported MINDIR's settings file tells the host steps its hop and rate."""
    settings = ModelSettings(MelSettings(sample_rate=24000, hop=300, fmax=12000.0), (5, 5, 4, 3))
    ms.set_seed(2)
    ckpt = str(tmp_path / "g24k.ckpt")
    save_generator(Generator(arch=settings.arch()), ckpt, settings)
    model = export.export(get_config(["--checkpoint_path", ckpt, "--file_name", str(tmp_path / "g24k"),
                                      "--dynamic_length", "True"]))
    mels = tmp_path / "mels"
    mels.mkdir()
    np.save(mels / "a.npy", np.random.default_rng(1).uniform(-11.5, 1.5, (80, 150)).astype(np.float32))
    out = tmp_path / "run"
    result = script(model, mels, "CPU", cwd=tmp_path, env={"INFER_OUTPUT": str(out), "EVAL_LENGTH": "64"})
    assert result.returncode == 0, result.stderr
    write_wav(str(tmp_path / "python.wav"), Vocoder(load_generator(ckpt), mode="window", eval_length=64)(
        np.load(mels / "a.npy")), 24000)
    (got, rate), (want, _) = (sf.read(str(p), dtype="int16") for p in (out / "wav" / "a.wav", tmp_path / "python.wav"))
    assert rate == 24000 and got.shape == want.shape == (150 * 300,)
    assert np.max(np.abs(got.astype(np.int32) - want)) <= 1 and np.std(want) > 100


def script(*args, cwd, env=None):
    return run(["bash", os.path.join(ROOT, "scripts", "run_infer_cpp.sh"), *map(str, args)], cwd=cwd, env=env)


def test_missing_or_corrupt_model_is_one_line(app, work, mels, tmp_path):
    env = {"INFER_OUTPUT": str(tmp_path / "out")}
    one_line_error(script(tmp_path / "none.mindir", mels, "CPU", cwd=tmp_path, env=env), "none.mindir", "not found")
    junk = tmp_path / "junk.mindir"
    junk.write_bytes(os.urandom(4096))
    one_line_error(script(junk, mels, "CPU", cwd=tmp_path, env=env), str(junk), "not a MINDIR")
    # the app itself, given a damaged model directly
    result = run([app, f"--mindir_path={junk}", f"--input0_path={work / 'bins'}",
                  f"--output_path={tmp_path / 'r'}", f"--time_path={tmp_path / 't'}"])
    one_line_error(result, str(junk), "cannot load the model", str(tmp_path / "t" / "runtime.log"))


def test_wrong_input_shape_is_one_line(app, work, model, lite_model, mels, tmp_path):
    # windows of 100 frames for a model exported with a fixed 240-frame input
    result = script(model, mels, "CPU", cwd=tmp_path, env={"INFER_OUTPUT": str(tmp_path / "o"), "EVAL_LENGTH": "100"})
    one_line_error(result, "wrong input shape", "[1, 80, 100]", "[1, 80, 240]")
    bins = tmp_path / "odd"
    bins.mkdir()
    (bins / "x.bin").write_bytes(b"\0" * 1001)
    result = run([app, f"--mindir_path={lite_model}", f"--input0_path={bins}", f"--output_path={tmp_path / 'r'}",
                  f"--time_path={tmp_path / 't'}"])
    one_line_error(result, "x.bin", "wrong input size")


def test_bad_arguments_are_one_line(work, model, mels, tmp_path):
    one_line_error(script(model, tmp_path / "no_mels", "CPU", cwd=tmp_path), "no_mels")
    one_line_error(script(model, mels, "TPU", cwd=tmp_path), "DEVICE_TYPE", "TPU")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    one_line_error(script(model, mels, "CPU", cwd=tmp_path, env={"INFER_OUTPUT": str(blocker / "out")}),
                   "cannot write")


def test_run_infer_cpp_killed_mid_run_then_end_to_end(app, work, model, mels, python_wavs, tmp_path):
    """scripts/run_infer_cpp.sh killed mid-run leaves only complete files; run again, it goes end to end
    (preprocess, Lite conversion of a copy, the app, postprocess) to WAVs equal to Python's."""
    before = open(model, "rb").read()
    out = tmp_path / "run"
    cmd = ["bash", os.path.join(ROOT, "scripts", "run_infer_cpp.sh"), model, str(mels), "CPU"]
    env = dict(os.environ, INFER_OUTPUT=str(out))
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and not list((out / "result_Files").glob("*_0.bin")):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the script and the app it started, mid-run
    proc.wait()
    for path in (out / "result_Files").glob("*.bin"):  # whatever was written is complete
        assert path.stat().st_size == 240 * 256 * 4
    result = script(model, mels, "CPU", "0", cwd=tmp_path, env={"INFER_OUTPUT": str(out)})
    assert result.returncode == 0, result.stderr
    assert "wrote 2 WAV file(s)" in result.stdout
    assert_wavs_match(out / "wav", python_wavs)
    assert (out / "time_Result" / "test_perform_static.txt").read_text().startswith("NN inference cost")
    assert open(model, "rb").read() == before  # the Lite conversion works on a copy


def test_run_eval_cpu_script(work, generator, mels, python_wavs, tmp_path):
    """scripts/run_eval_cpu.sh: eval.py in the background, log in ./eval.log, same audio as Python."""
    out = tmp_path / "eval_out"
    result = run(["bash", os.path.join(ROOT, "scripts", "run_eval_cpu.sh"), "0", generator[0],
                  "--eval_data_path", str(mels), "--output_path", str(out), "--eval_mode", "window", "--metrics", "none"],
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "in the background" in result.stdout
    log = tmp_path / "eval.log"
    deadline = time.time() + 300
    while time.time() < deadline and not re.search(r"^(wrote \d+ file|error:)", log.read_text(), re.M):
        time.sleep(0.2)
    assert "wrote 2 file(s)" in log.read_text(), log.read_text()[-2000:]
    assert_wavs_match(out, python_wavs)
    one_line_error(run(["bash", os.path.join(ROOT, "scripts", "run_eval_ascend.sh"), "0", str(tmp_path / "x.ckpt")]),
                   "x.ckpt", "not found")
