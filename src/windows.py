"""How long inputs are cut for the network and put back together. NumPy only: the C++ deployment's
host-side steps (ascend310_infer/preprocess.py, postprocess.py) run these on machines without MindSpore.

- Fixed windows (SPEC §5), what fixed-shape deployments (exported MINDIR, Ascend 310) run:
  `eval_length`-frame windows overlapping by `eval_length // 8`, the last one zero-padded after
  normalisation, outputs cross-faded linearly over the overlap.
- Exact chunks (the Vocoder's whole mode and streaming): spans of chunk + 2·context frames whose
  inner output equals the one-pass output (context from src.architecture's receptive field); the
  last one shorter, a multiple of a quarter span; for backends that compile per shape, short inputs
  too.
"""
import numpy as np

from src.architecture import GENERATOR
from src.features import normalize_mel

HOP = GENERATOR.hop  # audio samples per mel frame


def window_hop(eval_length=240):
    """Frames between window starts: eval_length minus the eval_length // 8 overlap."""
    return eval_length - eval_length // 8


def num_windows(frames, eval_length=240):
    """Fewest windows that cover `frames` (a clip shorter than one window still takes one)."""
    hop = window_hop(eval_length)
    return 1 + max(0, -(-(frames - eval_length) // hop))


def split_windows(log_mel, eval_length=240):
    """log-mel (n_mels, T) -> float32 array (N, n_mels, eval_length) of NORMALIZED windows,
    hop eval_length - eval_length//8 (overlap 30 frames at 240), last window zero-padded after
    normalisation (SPEC §5)."""
    log_mel = np.asarray(log_mel, dtype=np.float32)
    if log_mel.ndim != 2:
        raise ValueError(f"expected a 2-D log-mel (n_mels, frames), got shape {log_mel.shape}")
    channels, frames = log_mel.shape
    hop = window_hop(eval_length)
    count = num_windows(frames, eval_length)
    padded = np.zeros((channels, (count - 1) * hop + eval_length), dtype=np.float32)
    padded[:, :frames] = normalize_mel(log_mel)  # zero padding AFTER normalisation, as the zoo does
    return np.stack([padded[:, i * hop: i * hop + eval_length] for i in range(count)])


def crossfade_weights(eval_length=240, hop_size=HOP):
    """Fade-in ramp over the overlap samples; the fade-out is 1 - ramp, so the two always sum to 1."""
    overlap = (eval_length // 8) * hop_size
    return ((np.arange(overlap, dtype=np.float64) + 0.5) / overlap).astype(np.float32)


def merge_windows(audio_windows, frames, eval_length=240, hop_size=HOP):
    """(N, eval_length*hop) generator outputs -> float32 waveform of exactly frames*hop samples,
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


CONTEXT_FRAMES = GENERATOR.context_frames()  # 8 for the zoo's generator


def chunk_plan(frames, chunk_frames, context=CONTEXT_FRAMES, few_shapes=False):
    """(in_start, in_end, out_start, out_end) per chunk. Every chunk but the last reads span = chunk +
    2·context frames, so one compiled graph serves them all (the first gives chunk + context frames:
    nothing comes before the input's start); the last, once the rest fits in a span with its context
    (as a stream's flush), reads what last_chunk_start says. An input of at most a span runs in one
    pass, unless `few_shapes` (a backend much slower on a length it sees once): then one whose length
    is not a multiple of a quarter span is cut too, in spans of the largest multiple it holds, so that
    every input runs in the chunks' four shapes (measured, OpenVINO: a length seen once runs at ~2x the
    time per frame of a compiled shape; the cut reads ~1.26x the frames of a 1-3 s input)."""
    span = chunk_frames + 2 * context
    quarter = quarter_span(span)
    if frames <= span:
        short_span = frames // quarter * quarter
        if not few_shapes or short_span == frames or short_span <= 2 * context:
            return [(0, frames, 0, frames)]
        span = short_span
    plan, out_start = [], 0
    while frames - out_start + context > span:
        in_start = max(0, out_start - context)
        out_end = in_start + span - context  # context on the right only
        plan.append((in_start, in_start + span, out_start, out_end))
        out_start = out_end
    plan.append((last_chunk_start(frames, out_start, span, context, quarter), frames, out_start, frames))
    return plan


def quarter_span(span):
    """The step a last chunk's (and, with few_shapes, a short input's) reads are rounded up to."""
    return -(-span // 4)


def last_chunk_start(frames, out_start, span, context=CONTEXT_FRAMES, quarter=None):
    """Where the chunk giving frames out_start..frames (the input's end) starts reading: `context`
    frames before out_start, moved left until it reads a multiple of `quarter` (default a quarter
    span), at most a span (more context changes nothing). A full span computed half a chunk on
    average only to drop it, and the exact length would be a new shape per input (measured:
    OpenVINO's any-length model at 1.75x the time per frame of a compiled shape); so a corpus's
    tails take at most three more shapes."""
    quarter = quarter or quarter_span(span)
    return max(0, frames - min(span, -(-(frames - out_start + context) // quarter) * quarter))
