"""Objective metrics between a reference waveform and a synthesized one (eval.py's report).

- log-mel L1: mean |log-mel(ref) - log-mel(syn)| with SPEC §1 features (natural log).
- MCD: mel-cepstral distortion in dB over cepstral coefficients 1..24 (c0, the energy, excluded),
  cepstra being the orthonormal DCT-II of the SPEC log-mel; frames are time-aligned (the
  vocoder keeps the mel's timing), so no DTW: MCD = 10/ln10 · mean_t sqrt(2 Σ_k (c_k - c'_k)²).
- STOI (pystoi) and wide-band PESQ (pesq, at 16 kHz) when those packages are importable.
- An estimated MOS without reference: DNSMOS P.835 overall (OVRL, about 1..5) from the
  speechmos package's bundled ONNX models on onnxruntime, at 16 kHz. It is a learned estimate
  (it scores espeak-ng speech lower than real speech), not a listening test.
Both signals are cut to the shorter length first (a vocoder returns 256 × frames samples, up
to 255 more than the audio the mel was computed from).
"""
import math
import warnings

import numpy as np
import scipy.fft

from src.audio import SAMPLE_RATE, log_mel

MCD_COEFFS = 24

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


def log_mel_l1(reference, synthesized, sr=SAMPLE_RATE):
    ref, syn = align(reference, synthesized)
    return float(np.mean(np.abs(log_mel(ref, sr=sr) - log_mel(syn, sr=sr))))


def mel_cepstrum(audio, sr=SAMPLE_RATE, n_coeffs=MCD_COEFFS):
    """(frames, n_coeffs) cepstral coefficients 1..n_coeffs of the SPEC log-mel."""
    ceps = scipy.fft.dct(log_mel(audio, sr=sr).astype(np.float64), type=2, norm="ortho", axis=0)
    return ceps[1:n_coeffs + 1].T


def mel_cepstral_distortion(reference, synthesized, sr=SAMPLE_RATE, n_coeffs=MCD_COEFFS):
    ref, syn = align(reference, synthesized)
    diff = mel_cepstrum(ref, sr, n_coeffs) - mel_cepstrum(syn, sr, n_coeffs)
    return float(10.0 / math.log(10.0) * np.mean(np.sqrt(2.0 * np.sum(diff ** 2, axis=1))))


def stoi_score(reference, synthesized, sr=SAMPLE_RATE):
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


def pesq_score(reference, synthesized, sr=SAMPLE_RATE):
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


def mos_estimate(audio, sr=SAMPLE_RATE):
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


def compare(reference, synthesized, sr=SAMPLE_RATE):
    """All distances between a reference and a synthesized waveform, as a dict."""
    return {
        "log_mel_l1": log_mel_l1(reference, synthesized, sr),
        "mcd_db": mel_cepstral_distortion(reference, synthesized, sr),
        "stoi": stoi_score(reference, synthesized, sr),
        "pesq_wb": pesq_score(reference, synthesized, sr),
    }


def real_time_factor(compute_seconds, num_samples, sr=SAMPLE_RATE):
    """Compute time / audio duration (< 1 is faster than real time)."""
    return compute_seconds / (num_samples / sr)
