"""src/features.py: the feature settings built from the config keys, honoured or refused by key."""
import json
import os
import subprocess
import sys

import librosa
import numpy as np
import pytest

from src.errors import ConfigError
from src.features import ZOO, MelSettings
from src.model_utils.config import get_config
from tests.structure import ROOT


def _librosa_log_mel(audio, sr, n_fft, hop, win, n_mels, fmin, fmax):
    """Written from SPEC §1 with librosa directly, independent of src/features.py."""
    mel = librosa.feature.melspectrogram(y=audio, sr=sr, n_fft=n_fft, hop_length=hop, win_length=win,
                                         window="hann", center=True, pad_mode="reflect", power=1.0,
                                         n_mels=n_mels, fmin=fmin, fmax=fmax)
    return np.log(np.maximum(mel, 1e-5))


def _audio(seconds=0.5, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(22050 * seconds)) / 22050
    return (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)


def test_defaults_are_the_zoo_features():
    assert MelSettings.from_config(get_config([])) == ZOO
    assert (ZOO.sample_rate, ZOO.n_fft, ZOO.win_length, ZOO.hop, ZOO.n_mels, ZOO.fmin, ZOO.fmax) == \
        (22050, 1024, 1024, 256, 80, 0.0, 8000.0)


@pytest.mark.parametrize("overrides", [["--fmax", "7600", "--fmin", "80"], ["--filter_length", "2048"],
                                       ["--win_length", "800"]])
def test_feature_keys_are_honoured(overrides):
    features = MelSettings.from_config(get_config(overrides))
    audio = _audio()
    want = _librosa_log_mel(audio, 22050, features.n_fft, 256, features.win_length, 80, features.fmin, features.fmax)
    np.testing.assert_allclose(features.log_mel(audio), want, atol=1e-4)
    assert not np.allclose(features.log_mel(audio), ZOO.log_mel(audio), atol=1e-3)  # the key changed something


@pytest.mark.parametrize("overrides,key", [
    (["--hop_size", "300"], "hop_size"), (["--mel_num", "100"], "mel_num"), (["--sample", "100"], "sample"), (["--upsample_rates", "[8, 8, 2]"], "hop_size"),
    (["--upsample_rates", "[8, 0, 4]"], "upsample_rates"), (["--upsample_rates", "8"], "upsample_rates"),
    (["--fmax", "12000"], "fmax"), (["--fmin", "9000"], "fmin"), (["--win_length", "2048"], "filter_length")])
def test_settings_this_version_cannot_take_name_the_key(overrides, key):
    with pytest.raises(ConfigError, match=rf"^(config: |--){key} ") as caught:
        MelSettings.from_config(get_config(overrides))
    assert "\n" not in str(caught.value)


def test_other_rates_and_hops_with_a_matching_upsampling():
    features = MelSettings.from_config(get_config(["--sample", "24000", "--hop_size", "300",
                                                   "--upsample_rates", "[5, 5, 4, 3]", "--fmax", "12000"]))
    assert (features.sample_rate, features.hop, features.fmax) == (24000, 300, 12000.0)
    audio = _audio(0.5)
    assert features.log_mel(audio).shape == (80, 1 + audio.size // 300)


def test_hop_must_be_the_upsampling_product_in_one_line(tmp_path):
    done = subprocess.run([sys.executable, os.path.join(ROOT, "eval.py"), "--hop_size", "300",
                           "--eval_data_path", str(tmp_path)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 1 and done.stderr.strip().count("\n") == 0, done.stderr
    assert done.stderr.startswith("error: config: hop_size must equal the product of upsample_rates "
                                  "(8 x 8 x 2 x 2 = 256), got 300")


def test_preprocess_writes_the_configured_features(tmp_path):
    import soundfile as sf

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(2):
        sf.write(str(corpus / f"u{i}.wav"), _audio(0.4, seed=i), 22050, subtype="PCM_16")
    out = tmp_path / "data"
    done = subprocess.run([sys.executable, os.path.join(ROOT, "preprocess.py"), "--input_dir", str(corpus),
                           "--output_dir", str(out), "--val_size", "0", "--num_workers", "1", "--fmax", "7600"],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["features"]["fmax"] == 7600.0 and manifest["features"]["hop_size"] == 256
    audio = sf.read(str(out / "train" / "wav" / "u0.wav"), dtype="int16")[0].astype(np.float32) / 32768
    want = _librosa_log_mel(audio, 22050, 1024, 256, 1024, 80, 0.0, 7600.0)
    np.testing.assert_allclose(np.load(out / "train" / "mel" / "u0.npy"), want, atol=1e-4)
