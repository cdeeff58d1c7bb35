"""Settings travel with the model (src/settings.py): through every checkpoint and export format, said
at load, and compared with what the input says it is."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import mindspore as ms

from src.audio import to_natural_log
from src.backends import make_backend
from src.errors import ConfigError
from src.features import ZOO, FeatureMismatch, MelSettings
from src.fileio import save_npy
from src.inference import Vocoder
from src.model import Generator, load_generator, save_generator
from src.model_utils.config import get_config
from src.settings import ZOO_SETTINGS, ModelSettings, read_sidecar
from tests.structure import ROOT

# 24 kHz, hop 300: a setting other than the zoo's in every respect the model cares about
OTHER = ModelSettings(MelSettings(sample_rate=24000, hop=300, fmax=12000.0, fmin=50.0), (5, 5, 4, 3))


@pytest.fixture(scope="module")
def other_ckpt(tmp_path_factory):
    ms.set_seed(4)
    generator = Generator(arch=OTHER.arch())
    path = str(tmp_path_factory.mktemp("other") / "g24k.ckpt")
    save_generator(generator, path, OTHER)
    return path


def test_json_round_trip_and_zoo_default(zoo_ckpt):
    assert ModelSettings.from_json(OTHER.to_json(), "x") == OTHER
    assert load_generator(zoo_ckpt).settings == ZOO_SETTINGS  # a file without settings is the zoo's
    assert ModelSettings.from_config(get_config([])) == ZOO_SETTINGS


def test_generator_checkpoint_builds_its_own_network(other_ckpt):
    generator = load_generator(other_ckpt)
    assert generator.settings == OTHER and generator.arch.hop == 300
    vocoder = Vocoder(generator)
    assert vocoder.settings == OTHER
    mel = np.full((80, 13), -4.0, np.float32)
    assert vocoder(mel).shape == (13 * 300,)
    assert vocoder(mel, mode="window").shape == (13 * 300,)
    stream = vocoder.stream(chunk_frames=4)
    pieces = [stream.push(mel[:, :7]), stream.push(mel[:, 7:]), stream.flush()]
    np.testing.assert_allclose(np.concatenate(pieces), vocoder(mel), atol=1e-5)


@pytest.mark.parametrize("fmt", ["ONNX", "MINDIR", "CKPT"])
def test_settings_round_trip_through_every_export(other_ckpt, tmp_path, fmt):
    done = subprocess.run([sys.executable, os.path.join(ROOT, "export.py"), "--checkpoint_path", other_ckpt,
                           "--file_format", fmt, "--file_name", str(tmp_path / "m"), "--dynamic_length", "True",
                           "--eval_length", "24", "--verify", "True"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"model settings: {OTHER.describe()}" in done.stdout
    path = str(tmp_path / f"m.{fmt.lower()}")
    if fmt == "MINDIR":
        assert read_sidecar(path) == OTHER
        backend = make_backend("mindspore", path)
    elif fmt == "ONNX":
        backend = make_backend("onnxruntime", path)
    else:
        backend = make_backend("mindspore", path)
    assert backend.settings == OTHER
    mel = np.random.default_rng(0).uniform(-1, 1, (1, 80, 11)).astype(np.float32)
    assert backend(mel).shape == (1, 11 * 300)


def _eval(*args):
    """eval.py's main in this process (its graphs compile once per test run), as a finished command:
    (returncode, stdout, stderr) with the `error:` line of a stop on stderr."""
    import contextlib
    import io
    import types

    import eval as eval_script

    out, err, code = io.StringIO(), io.StringIO(), 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            eval_script.main(list(args))
        except SystemExit as stop:
            code = 1
            print(stop.code, file=err)
    return types.SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


def test_eval_names_each_setting_the_manifest_says_differs(other_ckpt, tmp_path):
    data = tmp_path / "dataset"
    save_npy(str(data / "val" / "a.npy"), np.full((80, 20), -5.0, np.float32))
    recorded = dict(ZOO.as_dict(), hop_size=256)
    del recorded["hop"]
    (data / "manifest.json").write_text(json.dumps({"features": recorded}))
    done = _eval("--eval_model_path", other_ckpt, "--eval_data_path", str(data / "val"),
                 "--output_path", str(tmp_path / "out"))
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    line = done.stderr.strip()
    assert line.startswith(f"error: {data / 'manifest.json'}: features differ from the model's:")
    for fragment in ("sample_rate 22050 (model: 24000)", "hop 256 (model: 300)", "fmin 0.0 (model: 50.0)",
                     "fmax 8000.0 (model: 12000.0)"):
        assert fragment in line
    assert not (tmp_path / "out" / "a.wav").exists()


def test_eval_checks_the_features_the_config_declares(zoo_ckpt, tmp_path):
    save_npy(str(tmp_path / "in" / "a.npy"), np.full((80, 20), -5.0, np.float32))
    done = _eval("--eval_model_path", zoo_ckpt, "--eval_data_path", str(tmp_path / "in"), "--fmax", "7600",
                 "--output_path", str(tmp_path / "out"))
    assert done.returncode == 1 and "fmax 7600.0 (model: 8000.0)" in done.stderr and done.stderr.count("\n") == 1
    done = _eval("--eval_model_path", zoo_ckpt, "--eval_data_path", str(tmp_path / "in"),
                 "--output_path", str(tmp_path / "out"), "--plot", "False")
    assert done.returncode == 0, done.stderr
    assert f"model settings: {ZOO_SETTINGS.describe()}" in done.stdout
    assert "note: 1 .npy input(s) without manifest.json: taken to be the model's features" in done.stdout
    recorded = dict(ZOO.as_dict(), hop_size=256)  # preprocess.py's record of the zoo's features
    del recorded["hop"]
    (tmp_path / "manifest.json").write_text(json.dumps({"features": recorded}))
    done = _eval("--eval_model_path", zoo_ckpt, "--eval_data_path", str(tmp_path / "in"),
                 "--output_path", str(tmp_path / "out"), "--plot", "False")
    assert done.returncode == 0 and "without manifest.json" not in done.stdout, done.stderr


def test_log10_and_decibel_mels_convert_exactly():
    audio = np.random.default_rng(0).uniform(-0.5, 0.5, 4096).astype(np.float32)
    ln = ZOO.log_mel(audio)
    np.testing.assert_allclose(to_natural_log(ln / np.log(10), ("log10", "magnitude")), ln, atol=1e-5)
    db = 20 * ln / np.log(10)  # librosa.amplitude_to_db of the magnitude mel (ref 1, no top_db clip)
    np.testing.assert_allclose(to_natural_log(db, ("db", "magnitude")), ln, atol=1e-5)


def test_eval_vocodes_a_declared_log10_mel_as_its_natural_log(zoo_ckpt, tmp_path):
    audio = 0.3 * np.sin(2 * np.pi * 220 * np.arange(8000) / 22050).astype(np.float32)
    ln = ZOO.log_mel(audio)
    save_npy(str(tmp_path / "ln" / "a.npy"), ln)
    save_npy(str(tmp_path / "log10" / "a.npy"), ln / np.log(10))
    for folder, extra in (("ln", []), ("log10", ["--mel_log", "log10"])):
        done = _eval("--eval_model_path", zoo_ckpt, "--eval_data_path", str(tmp_path / folder),
                     "--output_path", str(tmp_path / f"out_{folder}"), *extra)
        assert done.returncode == 0 and "warning" not in done.stderr, done.stderr
    import soundfile as sf
    np.testing.assert_allclose(sf.read(tmp_path / "out_log10" / "a.wav")[0], sf.read(tmp_path / "out_ln" / "a.wav")[0],
                               atol=2 / 32768)


def test_power_mels_are_refused_with_the_reason():
    from src.audio import check_representation
    with pytest.raises(ConfigError, match="power cannot be converted"):
        check_representation(("ln", "power"))
    with pytest.raises(ConfigError, match="mel_log must be one of"):
        check_representation(("log2", "magnitude"))


def test_mismatch_lists_every_differing_setting():
    with pytest.raises(FeatureMismatch) as caught:
        OTHER.features.check_input(ZOO, "x.npy")
    assert "\n" not in str(caught.value) and str(caught.value).count("(model: ") == 4


def test_vocoder_says_its_runtime_and_settings_at_load(other_ckpt, capsys):
    vocoder = Vocoder.from_checkpoint(other_ckpt, backend="mindspore")
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line == f"vocoder: {other_ckpt}: mindspore fp32; model settings: {OTHER.describe()}"
    assert vocoder.settings == OTHER


def test_resuming_from_other_settings_names_each(other_ckpt):
    from src.checkpoint import CheckpointError, read_checkpoint
    from src.trainer import check_settings

    check_settings(read_checkpoint(other_ckpt), other_ckpt, OTHER)  # the same: nothing to say
    with pytest.raises(CheckpointError) as caught:
        check_settings(read_checkpoint(other_ckpt), other_ckpt, ZOO_SETTINGS)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{other_ckpt}: trained with other settings than the config's:")
    for fragment in ("sample_rate 24000 (config: 22050)", "hop 300 (config: 256)",
                     "upsample_rates [5, 5, 4, 3] (config: [8, 8, 2, 2])"):
        assert fragment in message
