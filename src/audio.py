"""Audio and mel files: reading audio (resampled to the features' rate), 16-bit WAV writing, and the
checks a log-mel file must pass (shape, finiteness, and a range that can be SPEC §1's natural-log mel).
The features themselves are src/features.py's.
"""
import math
import os
import sys

import numpy as np
import soundfile as sf
from tqdm import tqdm

from src.errors import AudioError, ConfigError
from src.features import ZOO
from src.fileio import write_atomically

def read_audio(path, target_sr=ZOO.sample_rate):
    """Read an audio file as mono float32 at target_sr.

    Returns (audio, info) where info says whether it was resampled or mixed down. Raises
    AudioError naming the file for unreadable, empty or silent-by-construction input.
    """
    try:
        data, sr = sf.read(path, dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises several types for bad files
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise AudioError(f"{path}: not readable audio ({reason})") from None
    if data.shape[0] == 0:
        raise AudioError(f"{path}: zero-length audio")
    info = {"orig_sr": sr, "channels": data.shape[1], "resampled": False, "downmixed": False}
    if data.shape[1] > 1:
        data = data.mean(axis=1, keepdims=True)
        info["downmixed"] = True
    audio = data[:, 0]
    if sr != target_sr:
        import librosa  # pylint: disable=import-outside-toplevel

        audio = librosa.resample(audio, orig_sr=sr, target_sr=target_sr, res_type="soxr_hq")
        info["resampled"] = True
    if not np.all(np.isfinite(audio)):
        raise AudioError(f"{path}: audio contains NaN or infinite samples")
    return audio.astype(np.float32), info


def quantize_pcm16(audio):
    """Float audio -> exactly what a 16-bit WAV stores and reads back (int16 / 32768), so features
    computed from it match the written file bit for bit."""
    pcm = np.clip(np.round(np.asarray(audio, dtype=np.float64) * 32768.0), -32768, 32767)
    return (pcm / 32768.0).astype(np.float32)


def check_wav_complete(path):
    """AudioError if a RIFF/WAVE file holds less audio data than its header declares.

    libsndfile reads a truncated WAV silently (just shorter), so a cut-off copy would pass as audio.
    Streamed WAVs that leave the size as 0 or 0xFFFFFFFF are accepted; other formats are not checked.
    """
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return
        offset = 12
        while offset + 8 <= size:
            f.seek(offset)
            chunk = f.read(8)
            declared = int.from_bytes(chunk[4:8], "little")
            if chunk[:4] == b"data":
                available = size - offset - 8
                if declared not in (0, 0xFFFFFFFF) and available < declared:
                    raise AudioError(f"{path}: truncated WAV (header declares {declared} bytes of audio, "
                                     f"file has {available})")
                return
            offset += 8 + declared + (declared & 1)


def write_wav(path, audio, sr=ZOO.sample_rate):
    """Write 16-bit PCM mono WAV atomically (temp file + rename): never a half-written file."""
    audio = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
    write_atomically(path, lambda tmp: sf.write(tmp, audio, sr, subtype="PCM_16", format="WAV"))


def load_mel(path, n_mels=ZOO.n_mels):
    """Load a log-mel .npy (n_mels, T) and validate it; AudioError names the file otherwise."""
    if not str(path).endswith(".npy"):
        raise AudioError(f"{path}: not a .npy mel file")
    try:
        mel = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise AudioError(f"{path}: no such file") from None
    except Exception as e:
        raise AudioError(f"{path}: not a readable .npy file ({str(e).splitlines()[0]})") from None
    return check_mel(mel, str(path), n_mels)


def check_mel(mel, name, n_mels=ZOO.n_mels):
    mel = np.asarray(mel)
    if mel.ndim != 2:
        raise AudioError(f"{name}: expected a 2-D log-mel ({n_mels}, frames), got shape {mel.shape}")
    if mel.shape[0] != n_mels:
        raise AudioError(f"{name}: expected {n_mels} mel channels, got shape {mel.shape}")
    if mel.shape[1] == 0:
        raise AudioError(f"{name}: mel has zero frames")
    if not np.issubdtype(mel.dtype, np.floating):
        raise AudioError(f"{name}: mel must be floating point, got {mel.dtype}")
    if not np.all(np.isfinite(mel)):
        raise AudioError(f"{name}: mel contains NaN or infinite values")
    return mel.astype(np.float32)


# How another toolkit may store a mel: the log's base, and whether the mel was taken of the magnitude
# spectrum (as SPEC §1) or of the power spectrum. The config's `mel_log` and `mel_spectrum` declare it.
MEL_LOGS = ("ln", "log10", "db")
MEL_SPECTRA = ("magnitude", "power")
LN_MAGNITUDE = ("ln", "magnitude")


def check_representation(representation):
    """ConfigError for a representation that is not known, or that cannot be converted exactly."""

    log, spectrum = representation
    if log not in MEL_LOGS:
        raise ConfigError(f"config: mel_log must be one of {', '.join(MEL_LOGS)}, got {log!r}")
    if spectrum not in MEL_SPECTRA:
        raise ConfigError(f"config: mel_spectrum must be one of {', '.join(MEL_SPECTRA)}, got {spectrum!r}")
    if spectrum == "power":
        raise ConfigError("config: mel_spectrum power cannot be converted: a mel of the power spectrum is not the "
                          "square of a mel of the magnitude (each band sums |X|^2, not |X|); recompute the mels "
                          "from magnitudes (librosa: power=1)")


def to_natural_log(mel, representation=LN_MAGNITUDE, log_floor=ZOO.log_floor):
    """A magnitude mel stored as log10 or decibels (20·log10, librosa.amplitude_to_db) -> natural log,
    floored at ln(log_floor) as SPEC §1's are: an exact change of base (a dB top_db clip stays a clip)."""
    log, _ = representation
    if log == "ln":
        return mel
    scale = math.log(10.0) if log == "log10" else math.log(10.0) / 20.0
    return np.maximum(mel * np.float32(scale), np.float32(math.log(log_floor))).astype(np.float32)


LOG_MEL_MIN = ZOO.log_min  # -11.51: SPEC's floor
LOG_MEL_MAX = 4.0  # full-scale square waves and noise reach about +2.5; louder is not audio in [-1, 1]
_DOCS = "SPEC log-mels are ln(max(mel, 1e-5)), values in about [-11.5, +3]; vocoded as they are, these give noise"


def mel_range_problem(mel):
    """None when `mel`'s values can be a SPEC log-mel, else the likely cause (one phrase). Feeding
    another toolkit's features is the most common vocoder mistake, and the network turns them into
    noise without complaint; these are the usual kinds, told apart by range and floor."""
    mel = np.asarray(mel, dtype=np.float64)
    low, high = float(mel.min()), float(mel.max())
    if high > LOG_MEL_MAX:
        if low >= 0:
            return f"values {low:.3g}..{high:.3g}, all >= 0: looks like a linear mel magnitude or power (no log taken)"
        if low <= -20:
            return f"values {low:.1f}..{high:.1f}: looks like decibels (10·log10 or 20·log10, e.g. librosa.power_to_db)"
        return (f"values up to {high:.1f}, above what a log-mel of audio in [-1, 1] reaches (about +3): "
                f"a mel of the power spectrum (librosa's default power=2; its log is about twice a magnitude "
                f"mel's), audio scaled to int16 before the mel, or another toolkit's scaling")
    if low < LOG_MEL_MIN - 0.01:
        if low <= -20:
            return f"values down to {low:.1f}: looks like decibels (10·log10 or 20·log10) or a log with a tiny floor"
        return f"values down to {low:.2f}, below SPEC's floor ln(1e-5) = -11.51: a log with another floor or scaling"
    if low >= 0 and high > 0:
        return f"values {low:.3g}..{high:.3g}, all >= 0: looks like a linear mel magnitude (no log) or features scaled to [0, 1]"
    floor_share = np.mean(mel <= low + 1e-4)
    if low > LOG_MEL_MIN + 0.01 and low <= -1 and floor_share >= 0.01:  # clipped at a floor, not SPEC's
        exponent = -low
        if abs(exponent - round(exponent)) < 1e-3:
            return (f"{100 * floor_share:.0f} % of values clipped at {low:.2f} = log10(1e-{round(exponent)}): "
                    f"looks like log10 features (SPEC uses the natural log: multiply by ln 10 = 2.303)")
        return f"{100 * floor_share:.0f} % of values clipped at {low:.2f}, not at SPEC's ln(1e-5) = -11.51: another toolkit's log floor or normalization"
    if mel.shape[-1] >= 20:
        means, stds = mel.mean(axis=-1), mel.std(axis=-1)
        if np.all(np.abs(means) < 0.1) and np.all((stds > 0.8) & (stds < 1.2)):
            return ("every channel has mean 0 and standard deviation 1: features normalized with corpus statistics "
                    "(e.g. ParallelWaveGAN/ESPnet); undo the normalization first")
    return None


def warn_if_not_log_mel(mel, name, warned):
    """One 'warning: NAME: ...' line on stderr when mel cannot be a SPEC log-mel; `warned` (a set
    the caller keeps) makes it once per name."""
    if name in warned:
        return
    problem = mel_range_problem(mel)
    if problem:
        warned.add(name)
        # tqdm.write: a progress bar on stderr (eval's) is moved below the line, not run into it
        tqdm.write(f"warning: {name}: {problem}. {_DOCS}", file=sys.stderr)
