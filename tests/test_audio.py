"""src.audio.mel_range_problem: another toolkit's features are named, SPEC log-mels pass."""
import numpy as np
import pytest

from src.audio import mel_range_problem, warn_if_not_log_mel
from src.features import ZOO


def _speech_like(seconds=1.5):
    """Harmonics with a syllable envelope and pauses of digital silence, as in a real corpus."""
    t = np.arange(int(ZOO.sample_rate * seconds)) / ZOO.sample_rate
    voiced = sum(np.sin(2 * np.pi * 130.0 * k * t) / k for k in range(1, 20))
    breath = 0.02 * np.random.default_rng(0).normal(size=t.size)  # energy in every mel channel
    envelope = np.clip(np.sin(2 * np.pi * 2.5 * t), 0, None)  # half the time silent
    return (0.2 * envelope * (voiced + breath)).astype(np.float32)


@pytest.fixture(scope="module")
def spec_mel():
    return ZOO.log_mel(_speech_like())


def _stft_magnitude(audio):
    import librosa
    return np.abs(librosa.stft(audio, n_fft=1024, hop_length=256, win_length=1024, window="hann"))


def test_spec_log_mels_pass(spec_mel):
    t = np.arange(ZOO.sample_rate) / ZOO.sample_rate
    loud = [np.sign(np.sin(2 * np.pi * 150 * t)), np.clip(np.random.default_rng(0).normal(size=t.size), -1, 1)]
    for mel in [spec_mel] + [ZOO.log_mel(x.astype(np.float32)) for x in loud]:
        assert mel_range_problem(mel) is None
    assert mel_range_problem(np.zeros((80, 10), np.float32)) is None  # an all-zero placeholder: left alone


def test_other_toolkits_features_are_named(spec_mel):
    audio = _speech_like()
    linear = ZOO.basis() @ _stft_magnitude(audio)
    cases = {
        "log10": np.log10(np.maximum(linear, 1e-5)),  # log10 with the same floor
        "log10 (ParallelWaveGAN's 1e-10 floor)": np.log10(np.maximum(linear, 1e-10)),
        "dB": 20 * np.log10(np.maximum(linear, 1e-5)),
        "librosa.power_to_db": __import__("librosa").power_to_db(linear ** 2),
        "linear magnitude": linear,
        "linear, quiet": linear / linear.max() * 0.9,
        "int16-scaled audio": ZOO.log_mel(audio * 32768.0),
        "all above 5": spec_mel + 20.0,
        "standardized": (spec_mel - spec_mel.mean(axis=1, keepdims=True)) / spec_mel.std(axis=1, keepdims=True),
    }
    expected = {"log10": "log10", "log10 (ParallelWaveGAN's 1e-10 floor)": "log10", "dB": "decibels",
                "librosa.power_to_db": "decibels", "linear magnitude": "linear", "linear, quiet": "linear",
                "int16-scaled audio": "int16", "all above 5": "linear", "standardized": "normalized"}
    for name, mel in cases.items():
        problem = mel_range_problem(mel)
        assert problem is not None and expected[name] in problem, (name, problem)


def test_warning_is_one_line_once_per_name(spec_mel, capsys):
    warned = set()
    for _ in range(3):
        warn_if_not_log_mel(np.log10(np.exp(spec_mel)), "a.npy", warned)
        warn_if_not_log_mel(spec_mel, "b.npy", warned)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("warning: a.npy: ") and "log10" in err[0]
