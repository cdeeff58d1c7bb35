"""Every preset feature setting (issue #19), end to end: preprocess gives features equal to an
independent librosa computation, then 3 training steps, eval, ONNX export with --verify,
each carrying the settings. The preset farthest from the zoo's (odd strides, another rate, hop,
window and bands) trains G and a narrow D; the others train the generator's warm-up steps (G on the
mel loss alone), which is enough to show the dataset, the network and the checkpoint at their hop.
Each network (upsampling) trains once: a preset whose network an earlier one trained (24 kHz and
16 kHz at hop 256, 48 kHz and 44.1 kHz at hop 512) takes a generator-only checkpoint carrying its
settings, as users share them, through eval and export instead.
Training runs in PYNATIVE mode (no graph compile) except for one preset, trained in GRAPH mode and
evaluated in MindSpore; the others are evaluated with onnxruntime (no graph compile). Every
preset is exported to ONNX (written by src/onnx_graph.py from the network's table); the MINDIR export of
a non-zoo network and its settings sidecar are tests/test_settings.py's (MindSpore's exporter, one network
kind is enough). tests/test_settings.py and tests/test_cpp_infer.py take a
24 kHz hop-300 model through every checkpoint and export format and the C++ app."""
import glob
import json
import os

import librosa
import mindspore as ms
import numpy as np
import pytest
import soundfile as sf

import eval as eval_script
import export
from src.model import Generator, save_generator
from src.model_utils.config import get_config
from src.onnx_graph import read_settings
from src.settings import ModelSettings
from src.training import train
from tests.structure import ROOT
from tests.trainers import small_trainer

PRESETS = sorted(os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "configs", "*.yaml")))


def test_every_documented_rate_has_a_preset():
    assert PRESETS == ["16k_hop200.yaml", "16k_hop256.yaml", "24k_hop256.yaml", "24k_hop300.yaml",
                       "44k_hop512.yaml", "48k_hop512.yaml"]


def _librosa_log_mel(audio, f):
    mel = librosa.feature.melspectrogram(y=audio, sr=f.sample_rate, n_fft=f.n_fft, hop_length=f.hop,
                                         win_length=f.win_length, window="hann", center=True, pad_mode="reflect",
                                         power=1.0, n_mels=f.n_mels, fmin=f.fmin, fmax=f.fmax)
    return np.log(np.maximum(mel, 1e-5))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Three 0.7 s clips at 22.05 kHz (preprocess resamples them to each setting's rate)."""
    folder = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(0)
    t = np.arange(int(0.7 * 22050)) / 22050
    for i, f0 in enumerate((150, 220, 330)):
        audio = 0.3 * np.sin(2 * np.pi * f0 * t) + 0.02 * rng.standard_normal(t.size)
        sf.write(str(folder / f"u{i}.wav"), audio.astype(np.float32), 22050, subtype="PCM_16")
    return folder


def _network(preset):
    return ModelSettings.from_config(get_config(["--config_path", os.path.join(ROOT, "configs", preset)])).upsample_rates


FIRST_OF_ITS_NETWORK = {}
for _preset in PRESETS:
    FIRST_OF_ITS_NETWORK.setdefault(_network(_preset), _preset)
TRAINED = set(FIRST_OF_ITS_NETWORK.values())
ADVERSARIAL = "24k_hop300.yaml"  # the preset whose network differs most from the zoo's
GRAPH = "16k_hop200.yaml"  # trained in GRAPH mode
WARM_UP = ["--generator_warmup_steps", "3", "--mel_loss_weight", "1.0"]


def _preprocess(preset, corpus, tmp_path, *extra):
    """preprocess.py's work for a preset, checked against librosa; returns (config path, cfg, settings)."""
    import preprocess as preprocess_script

    config = os.path.join(ROOT, "configs", preset)
    cfg = get_config(["--config_path", config, *extra, "--batch_size", "1",
                      "--train_length", "6", "--num_workers", "1", "--max_steps", "3", "--save_steps", "3",
                      "--data_path", str(tmp_path / "data" / "train"), "--save_checkpoint_path", str(tmp_path / "ckpt")])
    settings = ModelSettings.from_config(cfg)
    f = settings.features

    preprocess_script.preprocess(str(corpus), str(tmp_path / "data"), val_size=1, num_workers=1, features=f)
    wav = sorted((tmp_path / "data" / "train" / "wav").iterdir())[0]
    audio, rate = sf.read(str(wav), dtype="int16")
    assert rate == f.sample_rate
    mel = np.load(tmp_path / "data" / "train" / "mel" / (wav.stem + ".npy"))
    np.testing.assert_allclose(mel, _librosa_log_mel(audio.astype(np.float32) / 32768, f), atol=1e-4)
    assert json.loads((tmp_path / "data" / "manifest.json").read_text())["features"]["hop_size"] == f.hop
    return config, cfg, settings


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_preprocesses_trains_evaluates_and_exports(preset, corpus, tmp_path):
    extra = [*([] if preset == ADVERSARIAL else WARM_UP), "--context_mode", "GRAPH" if preset == GRAPH else "PYNATIVE"]
    config, cfg, settings = _preprocess(preset, corpus, tmp_path, *extra)
    f = settings.features
    if preset in TRAINED:
        trainer = train(cfg, small_trainer(["--config_path", config, *extra]))
        assert trainer.step == 3 and trainer.warmup_steps == (0 if preset == ADVERSARIAL else 3)
        (ckpt,) = map(str, (tmp_path / "ckpt").glob("melgan-*_3.ckpt"))
    else:
        ms.set_seed(0)
        ckpt = str(tmp_path / "generator.ckpt")
        save_generator(Generator(arch=settings.arch()), ckpt, settings)

    out = tmp_path / "out"
    backend = "mindspore" if preset == GRAPH else "onnxruntime"
    rows = eval_script.run(get_config(["--config_path", config, "--eval_model_path", ckpt, "--backend", backend,
                                       "--eval_data_path", str(tmp_path / "data" / "val"),
                                       "--output_path", str(out), "--metrics", "fast"]))
    (row,) = rows
    info = sf.info(str(out / f"{row['name']}.wav"))
    assert info.samplerate == f.sample_rate and info.frames == row["frames"] * f.hop and row["log_mel_l1"] > 0

    path = export.export(get_config(["--checkpoint_path", ckpt, "--file_format", "ONNX",
                                     "--file_name", str(tmp_path / "m"), "--eval_length", "16", "--verify", "True"]))
    assert read_settings(path) == settings
