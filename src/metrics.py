"""Objective metrics between a reference waveform and a synthesized one (eval.py's report).

- log-mel L1: mean |log-mel(ref) - log-mel(syn)| with the model's features (SPEC §1, natural log).
- MCD: the speech-synthesis literature's mel-cepstral distortion, in dB. Mel-cepstra are SPTK's
  (pysptk.mcep: mel-cepstral analysis, order 24, all-pass constant alpha 0.455, the value
  pysptk.util.mcepalpha gives for 22.05 kHz) of Blackman-windowed 1024-sample frames every 256
  samples, so one frame per mel frame; MCD = 10/ln10 · mean_t sqrt(2 Σ_{k=1..24} (c_k - c'_k)²),
  c0 (the frame energy) excluded. Frames are paired by index, not by DTW: a vocoder keeps the mel's
  timing sample for sample, and DTW would only hide a timing error (and cost O(frames²)). A good
  vocoder scores a few dB; unrelated audio 10 dB or more.
- STOI (pystoi) and wide-band PESQ (pesq, at 16 kHz) when those packages are importable.
- F0 RMSE in cents and the voiced/unvoiced decision error, from WORLD's F0 (pyworld: DIO, refined
  by StoneMask, 40..800 Hz) at one frame per mel frame (frame period hop / sample_rate s, frame t
  centred on sample hop·t). The RMSE is over the frames voiced in both signals (None when there are
  none); the V/UV error is the fraction of frames where exactly one of the two is voiced. DIO +
  StoneMask costs ~30 ms per second of audio (Harvest, a bit more robust, ~10 times that), so both
  are in the "fast" level.
- An estimated MOS without reference: DNSMOS P.835 overall (OVRL, about 1..5) from the
  speechmos package's bundled ONNX models on onnxruntime, at 16 kHz. It is a learned estimate
  (it scores espeak-ng speech lower than real speech), not a listening test.
Both signals are cut to the shorter length first (a vocoder returns 256 × frames samples, up
to 255 more than the audio the mel was computed from).
"""
import math
import warnings

import numpy as np

from src.features import ZOO

with warnings.catch_warnings():
    # pysptk 1.0.1 imports pkg_resources (for its example audio path), which warns it is deprecated
    warnings.simplefilter("ignore")
    import pysptk
    import pyworld  # pyworld 0.3.5 imports pkg_resources too

MCD_COEFFS = 24
F0_FLOOR, F0_CEIL = 40.0, 800.0  # Hz: the F0 search range (ESPnet's evaluate_f0 defaults)
MCD_ALPHA = 0.455  # pysptk.util.mcepalpha(22050): the all-pass constant closest to the mel scale
_MCEP_EPS = 1e-6  # added to the periodogram (as ESPnet's MCD does): digital silence gets a finite log

try:  # optional: reported when installed
    from pystoi import stoi as _stoi
except ImportError:  # pragma: no cover - depends on the environment
    _stoi = None
try:
    from pesq import pesq as _pesq
except ImportError:  # pragma: no cover
    _pesq = None


def align(reference, synthesized):
    n = min(len(reference), len(synthesized))
    return np.asarray(reference[:n], dtype=np.float32), np.asarray(synthesized[:n], dtype=np.float32)


def log_mel_l1(reference, synthesized, features=ZOO):
    ref, syn = align(reference, synthesized)
    return float(np.mean(np.abs(features.log_mel(ref) - features.log_mel(syn))))


def mcep_alpha(sample_rate):
    """The all-pass constant that makes SPTK's frequency warping closest to the mel scale at this rate
    (0.455 at 22.05 kHz; pysptk.util.mcepalpha)."""
    return MCD_ALPHA if sample_rate == ZOO.sample_rate else round(float(pysptk.util.mcepalpha(sample_rate)), 3)


def mel_cepstrum(audio, order=MCD_COEFFS, alpha=None, features=ZOO):
    """(frames, order) SPTK mel-cepstra c1..c_order, one frame per mel frame of `features` (centred,
    reflect-padded, 1 + samples // hop frames of n_fft samples)."""
    n_fft = features.n_fft
    alpha = mcep_alpha(features.sample_rate) if alpha is None else alpha
    x = np.pad(np.asarray(audio, dtype=np.float64), n_fft // 2, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::features.hop] * pysptk.blackman(n_fft)
    return np.stack([pysptk.mcep(f, order, alpha, etype=1, eps=_MCEP_EPS)[1:] for f in frames])


def mel_cepstral_distortion(reference, synthesized, features=ZOO):
    ref, syn = align(reference, synthesized)
    diff = mel_cepstrum(ref, features=features) - mel_cepstrum(syn, features=features)
    return float(10.0 / math.log(10.0) * np.mean(np.sqrt(2.0 * np.sum(diff ** 2, axis=1))))


def f0_track(audio, features=ZOO):
    """WORLD F0 in Hz (0 = unvoiced) by DIO + StoneMask, one value per mel frame of `features`
    (frame t centred on sample hop·t: 1 + samples // hop frames)."""
    x = np.asarray(audio, dtype=np.float64)
    sr, period_ms = features.sample_rate, features.hop / features.sample_rate * 1000.0
    f0, times = pyworld.dio(x, sr, f0_floor=F0_FLOOR, f0_ceil=F0_CEIL, frame_period=period_ms)
    f0 = pyworld.stonemask(x, f0, times, sr)
    frames = 1 + len(x) // features.hop
    return np.pad(f0, (0, max(0, frames - len(f0))))[:frames]


def _f0_pair(reference, synthesized, features):
    ref, syn = align(reference, synthesized)
    return f0_track(ref, features), f0_track(syn, features)


def f0_rmse_cents(reference, synthesized, features=ZOO, tracks=None):
    """RMSE of 1200·log2(F0_syn / F0_ref) over the frames voiced in both; None when there are none."""
    f0_ref, f0_syn = tracks if tracks is not None else _f0_pair(reference, synthesized, features)
    both = (f0_ref > 0) & (f0_syn > 0)
    if not np.any(both):
        return None
    cents = 1200.0 * np.log2(f0_syn[both] / f0_ref[both])
    return float(np.sqrt(np.mean(cents ** 2)))


def vuv_error(reference, synthesized, features=ZOO, tracks=None):
    """Fraction of frames where exactly one of reference and synthesis is voiced (0..1)."""
    f0_ref, f0_syn = tracks if tracks is not None else _f0_pair(reference, synthesized, features)
    return float(np.mean((f0_ref > 0) != (f0_syn > 0)))


def stoi_score(reference, synthesized, sr=ZOO.sample_rate):
    """STOI in [0, 1], or None when pystoi is missing or the signal is too short to score."""
    if _stoi is None:
        return None
    ref, syn = align(reference, synthesized)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            score = float(_stoi(ref.astype(np.float64), syn.astype(np.float64), sr, extended=False))
        except Exception:  # pystoi raises on some degenerate inputs
            return None
    # Under ~0.4 s of non-silent audio pystoi warns and returns a placeholder 1e-5: not a score.
    if any("Not enough STFT frames" in str(w.message) for w in caught):
        return None
    return score


def pesq_score(reference, synthesized, sr=ZOO.sample_rate):
    """Wide-band PESQ (MOS-LQO, about 1..4.64) at 16 kHz, or None when unavailable or unscorable."""
    if _pesq is None:
        return None
    ref, syn = align(reference, synthesized)
    ref16, syn16 = _resample16(ref, sr), _resample16(syn, sr)
    try:
        return float(_pesq(16000, ref16, syn16, "wb"))
    except Exception:  # pesq raises on silence ("No utterances detected") and very short clips
        return None


def _resample16(audio, sr):
    import librosa  # resampling only here; PESQ and DNSMOS are defined at 16 kHz

    return librosa.resample(np.asarray(audio, dtype=np.float32), orig_sr=sr, target_sr=16000, res_type="soxr_hq")


def mos_estimate(audio, sr=ZOO.sample_rate):
    """DNSMOS OVRL estimate of one waveform (no reference needed), or None when speechmos (or
    the requests module it imports) is missing or the clip is silent."""
    try:
        from speechmos import dnsmos
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    audio16 = np.clip(_resample16(audio, sr), -1.0, 1.0)
    if not np.any(audio16):
        return None
    return float(dnsmos.run(audio16, 16000)["ovrl_mos"])


# How much of the report eval.py computes: none (corpus vocoding: audio only), fast (the two
# spectral distances and the F0 measures, milliseconds per file), all (also STOI, PESQ and the estimated MOS).
LEVELS = ("none", "fast", "all")


def compare(reference, synthesized, features=ZOO, level="all"):
    """The distances between a reference and a synthesized waveform (at `features`' rate) that `level`
    asks for, as a dict."""
    if level == "none":
        return {}
    found = {"log_mel_l1": log_mel_l1(reference, synthesized, features),
             "mcd_db": mel_cepstral_distortion(reference, synthesized, features)}
    tracks = _f0_pair(reference, synthesized, features)  # one F0 analysis each for both F0 measures
    found["f0_rmse_cents"] = f0_rmse_cents(reference, synthesized, features, tracks)
    found["vuv_error"] = vuv_error(reference, synthesized, features, tracks)
    if level == "all":
        found["stoi"] = stoi_score(reference, synthesized, features.sample_rate)
        found["pesq_wb"] = pesq_score(reference, synthesized, features.sample_rate)
    return found


def snr_db(reference, other):
    """Signal-to-noise ratio of `other` against `reference` in dB (how close two renderings are,
    e.g. bf16 against fp32 output); inf when they are identical."""
    reference, other = align(reference, other)
    noise = np.sum((other.astype(np.float64) - reference) ** 2)
    return float("inf") if noise == 0 else float(10 * np.log10(np.sum(reference.astype(np.float64) ** 2) / noise))


def real_time_factor(compute_seconds, num_samples, sr=ZOO.sample_rate):
    """Compute time / audio duration (< 1 is faster than real time)."""
    return compute_seconds / (num_samples / sr)
