"""Report metrics on known pairs: identical audio gives zero distance, damage gives more."""
import numpy as np
import pytest

from src import metrics
from src.features import ZOO
from src.metrics import pysptk


def _speechlike(seconds=1.5, seed=0):
    t = np.arange(int(ZOO.sample_rate * seconds)) / ZOO.sample_rate
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


def test_mcd_is_sptk_mel_cepstra_frame_by_frame():
    x, y = _speechlike(seed=0), _speechlike(seed=3) * 0.5
    cx, cy = metrics.mel_cepstrum(x), metrics.mel_cepstrum(y)
    # one frame per SPEC mel frame, c1..c24
    assert cx.shape == (ZOO.log_mel(x).shape[1], metrics.MCD_COEFFS)
    # frame t is SPTK's mel-cepstral analysis (alpha 0.455) of the Blackman-windowed 1024 samples
    # centred on sample 256 t
    t = 20
    frame = x[t * 256 - 512:t * 256 + 512].astype(np.float64) * pysptk.blackman(1024)
    np.testing.assert_allclose(cx[t], pysptk.mcep(frame, 24, 0.455, etype=1, eps=1e-6)[1:], rtol=1e-9, atol=1e-12)
    assert pysptk.util.mcepalpha(ZOO.sample_rate) == pytest.approx(metrics.MCD_ALPHA, abs=1e-3)
    frame_mcd = 10 / np.log(10) * np.sqrt(2 * ((cx - cy) ** 2).sum(axis=1))
    assert metrics.mel_cepstral_distortion(x, y) == pytest.approx(frame_mcd.mean(), rel=1e-9)


def test_mcd_is_on_the_published_scale():
    """0 for identical audio, a few dB for a close copy, more than 10 dB for noise (as in papers)."""
    x = _speechlike()
    rng = np.random.default_rng(2)
    rms = float(np.sqrt(np.mean(x ** 2)))
    close = x + 0.03 * rms * rng.normal(size=x.size).astype(np.float32)  # 30 dB SNR
    noise = 0.1 * rng.normal(size=x.size).astype(np.float32)
    assert metrics.mel_cepstral_distortion(x, x) == 0.0
    assert 0.2 < metrics.mel_cepstral_distortion(x, close) < 4.0
    assert metrics.mel_cepstral_distortion(x, noise) > 10.0


def test_mcd_pairs_frames_by_index():
    """No DTW: a vocoder keeps the mel's timing, so audio one frame late is a real error."""
    x = _speechlike()
    late = np.concatenate([np.zeros(256, np.float32), x[:-256]])
    assert metrics.mel_cepstral_distortion(x, late) > 1.0


def _harmonic_tone(f0, seconds=1.5):
    t = np.arange(int(ZOO.sample_rate * seconds)) / ZOO.sample_rate
    return (0.1 * sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 8))).astype(np.float32)


def test_f0_identical_audio_gives_zero():
    x = _speechlike()
    assert metrics.f0_rmse_cents(x, x) == 0.0 and metrics.vuv_error(x, x) == 0.0
    result = metrics.compare(x, x, level="fast")  # cheap enough for the fast level
    assert result["f0_rmse_cents"] == 0.0 and result["vuv_error"] == 0.0


def test_f0_track_is_one_value_per_mel_frame():
    x = _speechlike()
    f0 = metrics.f0_track(x)
    assert f0.shape == (ZOO.log_mel(x).shape[1],)
    assert np.median(f0[f0 > 0]) == pytest.approx(140.0, rel=0.02)


def test_two_semitones_up_is_about_200_cents():
    low, high = _harmonic_tone(140.0), _harmonic_tone(140.0 * 2 ** (2 / 12))
    assert 150 < metrics.f0_rmse_cents(low, high) < 250  # measured 199.6
    assert metrics.vuv_error(low, high) < 0.05  # both voiced throughout


def test_silence_against_a_tone_is_a_large_vuv_error():
    tone = _harmonic_tone(200.0)
    silence = np.zeros_like(tone)
    assert metrics.vuv_error(tone, silence) > 0.9
    assert metrics.f0_rmse_cents(tone, silence) is None  # no frame voiced in both


def test_too_short_for_stoi_is_none_not_a_placeholder():
    x = _speechlike(seconds=0.2)
    assert metrics.stoi_score(x, x) is None


def test_real_time_factor():
    assert metrics.real_time_factor(0.5, ZOO.sample_rate * 2) == pytest.approx(0.25)
