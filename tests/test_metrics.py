"""Report metrics on known pairs: identical audio gives zero distance, damage gives more."""
import numpy as np
import pytest

from src import metrics
from src.audio import SAMPLE_RATE


def _speechlike(seconds=1.5, seed=0):
    t = np.arange(int(SAMPLE_RATE * seconds)) / SAMPLE_RATE
    rng = np.random.default_rng(seed)
    voiced = sum(np.sin(2 * np.pi * f0 * k * t) / k for f0 in (140.0,) for k in range(1, 12))
    envelope = 0.5 * (1 + np.sin(2 * np.pi * 3 * t))  # syllable-rate amplitude modulation
    return (0.1 * envelope * voiced + 0.005 * rng.normal(size=t.size)).astype(np.float32)


def test_identical_audio_gives_zero_distance():
    x = _speechlike()
    result = metrics.compare(x, x)
    assert result["log_mel_l1"] == 0.0
    assert result["mcd_db"] == 0.0
    assert result["stoi"] == pytest.approx(1.0, abs=1e-6)
    assert result["pesq_wb"] > 4.5  # PESQ's ceiling is 4.64


def test_a_few_extra_samples_do_not_count():
    # a vocoder returns 256 × frames samples, up to 255 more than the source audio
    x = _speechlike()
    padded = np.concatenate([x, np.zeros(200, np.float32)])
    assert metrics.log_mel_l1(x, padded) == 0.0 and metrics.mel_cepstral_distortion(x, padded) == 0.0


def test_distances_grow_with_damage():
    x = _speechlike()
    rng = np.random.default_rng(1)
    mild = x + 0.003 * rng.normal(size=x.size).astype(np.float32)
    strong = x + 0.05 * rng.normal(size=x.size).astype(np.float32)
    m, s = metrics.compare(x, mild), metrics.compare(x, strong)
    assert 0 < m["log_mel_l1"] < s["log_mel_l1"]
    assert 0 < m["mcd_db"] < s["mcd_db"]
    assert m["stoi"] > s["stoi"] and m["pesq_wb"] > s["pesq_wb"]


def test_mcd_matches_its_definition():
    x, y = _speechlike(seed=0), _speechlike(seed=3) * 0.5
    cx, cy = metrics.mel_cepstrum(x), metrics.mel_cepstrum(y)
    assert cx.shape[1] == metrics.MCD_COEFFS
    frame_mcd = 10 / np.log(10) * np.sqrt(2 * ((cx - cy) ** 2).sum(axis=1))
    assert metrics.mel_cepstral_distortion(x, y) == pytest.approx(frame_mcd.mean(), rel=1e-9)
    # c0 (overall level) is left out: a pure gain change moves L1 but not the cepstral shape much
    assert metrics.log_mel_l1(x, 0.5 * x) == pytest.approx(np.log(2), abs=0.05)


def test_too_short_for_stoi_is_none_not_a_placeholder():
    x = _speechlike(seconds=0.2)
    assert metrics.stoi_score(x, x) is None


def test_real_time_factor():
    assert metrics.real_time_factor(0.5, SAMPLE_RATE * 2) == pytest.approx(0.25)
