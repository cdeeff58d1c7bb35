"""Inference: the zoo's fixed-window mode (pure NumPy), a fast generator, and the Vocoder API.

Two ways to vocode a log-mel `(80, T)`:
- whole-utterance: one generator pass (or exact chunks of it for bounded memory), no seams;
- windows (SPEC §5): fixed `eval_length`-frame windows overlapping by `eval_length // 8`,
  cross-faded linearly — what fixed-shape deployments (exported MINDIR, Ascend 310) run.
`split_windows` / `merge_windows` need only NumPy, so C++ pre/post-processing can mirror them.
"""
import numpy as np

HOP = 256


def window_hop(eval_length=240):
    """Frames between window starts: eval_length minus the eval_length // 8 overlap."""
    return eval_length - eval_length // 8


def num_windows(frames, eval_length=240):
    """Fewest windows that cover `frames` (a clip shorter than one window still takes one)."""
    hop = window_hop(eval_length)
    return 1 + max(0, -(-(frames - eval_length) // hop))


def split_windows(log_mel, eval_length=240):
    """log-mel (80, T) -> float32 array (N, 80, eval_length) of NORMALIZED ((x+5)/5) windows,
    hop eval_length - eval_length//8 (overlap 30 frames at 240), last window zero-padded after
    normalisation (SPEC §5)."""
    log_mel = np.asarray(log_mel, dtype=np.float32)
    if log_mel.ndim != 2:
        raise ValueError(f"expected a 2-D log-mel (80, frames), got shape {log_mel.shape}")
    channels, frames = log_mel.shape
    hop = window_hop(eval_length)
    count = num_windows(frames, eval_length)
    padded = np.zeros((channels, (count - 1) * hop + eval_length), dtype=np.float32)
    padded[:, :frames] = (log_mel + 5.0) / 5.0  # zero padding AFTER normalisation, as the zoo does
    return np.stack([padded[:, i * hop: i * hop + eval_length] for i in range(count)])


def crossfade_weights(eval_length=240, hop_size=HOP):
    """Fade-in ramp over the overlap samples; the fade-out is 1 - ramp, so the two always sum to 1."""
    overlap = (eval_length // 8) * hop_size
    return ((np.arange(overlap, dtype=np.float64) + 0.5) / overlap).astype(np.float32)


def merge_windows(audio_windows, frames, eval_length=240, hop_size=HOP):
    """(N, eval_length*256) generator outputs -> float32 waveform of exactly frames*256 samples,
    overlaps cross-faded linearly (SPEC §5)."""
    audio_windows = np.asarray(audio_windows, dtype=np.float32)
    count = audio_windows.shape[0]
    audio_windows = audio_windows.reshape(count, -1)
    window_samples = eval_length * hop_size
    if audio_windows.shape[1] != window_samples:
        raise ValueError(f"expected windows of {window_samples} samples, got {audio_windows.shape[1]}")
    if count != num_windows(frames, eval_length):
        raise ValueError(f"{frames} frames need {num_windows(frames, eval_length)} windows, got {count}")
    step = window_hop(eval_length) * hop_size
    fade_in = crossfade_weights(eval_length, hop_size)
    overlap = fade_in.size
    out = np.zeros((count - 1) * step + window_samples, dtype=np.float32)
    for i, window in enumerate(audio_windows):
        start = i * step
        window = window.copy()
        if i > 0 and overlap:
            window[:overlap] *= fade_in
        if i < count - 1 and overlap:
            window[window_samples - overlap:] *= 1.0 - fade_in
        out[start: start + window_samples] += window
    return out[: frames * hop_size]
