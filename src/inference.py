"""Inference: the zoo's fixed-window mode (pure NumPy), a fast generator, and the Vocoder API.

Two ways to vocode a log-mel `(80, T)`:
- whole-utterance: one generator pass (or exact chunks of it for bounded memory), no seams;
- windows (SPEC §5): fixed `eval_length`-frame windows overlapping by `eval_length // 8`,
  cross-faded linearly — what fixed-shape deployments (exported MINDIR, Ascend 310) run.
`split_windows` / `merge_windows` need only NumPy, so C++ pre/post-processing can mirror them.
Both, and streaming, need from the network only a function normalized mel (B, 80, T) -> audio
(B, 256·T): any backend of src/backends (MindSpore, onnxruntime, OpenVINO; docs/backends.md).
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


# ---------------------------------------------------------------------------------------------
# Fast generator: the same function as src.model.Generator, rewritten for inference speed.
# ---------------------------------------------------------------------------------------------
import mindspore as ms  # noqa: E402  (imported here: the window functions above need NumPy only)
import mindspore.nn as nn  # noqa: E402
import mindspore.ops as ops  # noqa: E402

from src.audio import check_mel, normalize_mel, warn_if_not_log_mel  # noqa: E402
from src.checkpoint import load_into, read_checkpoint  # noqa: E402
from src.model import Generator  # noqa: E402

UPSAMPLES = ((8, 16, 4), (8, 16, 4), (2, 4, 1), (2, 4, 1))  # (stride, kernel, padding) of conv1dtran_1..4
DILATIONS = (1, 3, 9)
# Frames of mel context each side that make a chunk's inner output equal the one-pass output.
# The generator's receptive field reaches 6.6 frames back and 5.6 ahead (conv k7: 3 frames;
# upsampler 1: 1.4/0.5; each ResStack: 13 samples at its rate; later layers < 0.5 frame).
CONTEXT_FRAMES = 8


def _constant(array, name):
    return ms.Parameter(ms.Tensor(np.ascontiguousarray(array, dtype=np.float32)), name=name, requires_grad=False)


class _FusedResBlock(nn.Cell):
    """One residual block: x -> W4·lrelu(conv_d(lrelu(x))) + b4 + Ws·x + bs.

    The block's 1×1 conv, the 1×1 shortcut, both biases and the residual add are ONE 1×1 conv
    over the concatenated channels [h; x; 1] (the constant-one channel carries the bias).
    """

    def __init__(self, channels, dilation, w_dil, b_dil, w_out, b_out, w_short, b_short, alpha):
        super().__init__()
        self.alpha = alpha
        self.conv_dil = ops.Conv2D(channels, (1, 3), pad_mode="pad", pad=(0, 0, dilation, dilation),
                                   dilation=(1, dilation))
        self.w_dil = _constant(w_dil, "w_dil")
        self.b_dil = _constant(b_dil, "b_dil")
        self.conv_out = ops.Conv2D(channels, (1, 1))
        self.w_out = _constant(np.concatenate([w_out, w_short, (b_out + b_short)[:, None, None, None]], axis=1),
                               "w_out")

    def construct(self, x):
        h = ops.leaky_relu(x, self.alpha)
        h = ops.leaky_relu(ops.bias_add(self.conv_dil(h, self.w_dil), self.b_dil), self.alpha)
        ones = ops.ones((x.shape[0], 1, 1, x.shape[3]), ms.float32)
        return self.conv_out(ops.concat((h, x, ones), 1), self.w_out)


class _Upsample(nn.Cell):
    def __init__(self, out_channels, stride, kernel, padding, weight, bias):
        super().__init__()
        self.deconv = ops.Conv2DTranspose(out_channels, (1, kernel), pad_mode="pad",
                                          pad=(0, 0, padding, padding), stride=(1, stride))
        self.weight = _constant(weight, "weight")
        self.bias = _constant(bias, "bias")
        self.out_channels = out_channels
        self.stride = stride
        self.trim = kernel - 2 * padding

    def construct(self, x):
        out_len = (x.shape[3] - 1) * self.stride + self.trim
        y = self.deconv(x, self.weight, (x.shape[0], self.out_channels, 1, out_len))
        return ops.bias_add(y, self.bias)


class FastGenerator(nn.Cell):
    """Inference-only generator, numerically the plain Generator (≤ 1e-5), faster on CPU.

    Rewrites: zero padding inside every convolution; the whole net kept 4-D (no expand/squeeze
    around each conv); per residual block, the 1×1 conv, shortcut, biases and add fused into one
    conv (`_FusedResBlock`). Input normalized log-mel (B, 80, T) -> waveform (B, 1, 256·T).
    """

    def __init__(self, params, alpha=0.2):
        super().__init__()
        self.alpha = alpha
        self.conv_in = ops.Conv2D(512, (1, 7), pad_mode="pad", pad=(0, 0, 3, 3))
        self.w_in = _constant(params["conv1d_1.conv.weight"], "w_in")
        self.b_in = _constant(params["conv1d_1.conv.bias"], "b_in")
        ups, stacks = [], []
        channels = 512
        for i, (stride, kernel, padding) in enumerate(UPSAMPLES, start=1):
            channels //= 2
            ups.append(_Upsample(channels, stride, kernel, padding, params[f"conv1dtran_{i}.conv.weight"],
                                 params[f"conv1dtran_{i}.conv.bias"]))
            blocks = []
            for j, dilation in enumerate(DILATIONS, start=1):
                pre = f"rses_{i}.block{j}"
                short = f"rses_{i}.shortcut{j}.conv"
                blocks.append(_FusedResBlock(channels, dilation, params[f"{pre}.2.conv.weight"],
                                             params[f"{pre}.2.conv.bias"], params[f"{pre}.4.conv.weight"],
                                             params[f"{pre}.4.conv.bias"], params[f"{short}.weight"],
                                             params[f"{short}.bias"], alpha))
            stacks.append(nn.SequentialCell(blocks))
        self.ups = nn.CellList(ups)
        self.stacks = nn.CellList(stacks)
        self.conv_last = ops.Conv2D(1, (1, 7), pad_mode="pad", pad=(0, 0, 3, 3))
        self.w_last = _constant(params["conv1d_2.conv.weight"], "w_last")
        self.b_last = _constant(params["conv1d_2.conv.bias"], "b_last")

    @classmethod
    def from_generator(cls, generator):
        """Build from a plain src.model.Generator (its current weights and LeakyReLU slope)."""
        params = {p.name: p.asnumpy() for p in generator.get_parameters()}
        net = cls(params, alpha=float(generator.leaky_relu.alpha))
        net.set_train(False)
        return net

    def construct(self, mel):
        x = ops.expand_dims(mel, 2)
        x = ops.leaky_relu(ops.bias_add(self.conv_in(x, self.w_in), self.b_in), self.alpha)
        for up, stack in zip(self.ups, self.stacks):
            x = ops.leaky_relu(stack(up(x)), self.alpha)
        x = ops.tanh(ops.bias_add(self.conv_last(x, self.w_last), self.b_last))
        return ops.squeeze(x, 2)


# ---------------------------------------------------------------------------------------------
# Vocoder API
# ---------------------------------------------------------------------------------------------
def load_generator(path, alpha=0.2):
    """Plain Generator with weights from a training, generator-only or public zoo checkpoint."""
    generator = Generator(alpha)
    load_into(generator, read_checkpoint(path), path, "generator")
    generator.set_train(False)
    return generator


def _chunk_plan(frames, chunk_frames, context):
    """(in_start, in_end, out_start, out_end) per chunk; every input span has the same length
    (chunk + 2·context, shifted inwards at the ends), so one compiled graph serves all chunks."""
    span = chunk_frames + 2 * context
    if frames <= span:
        return [(0, frames, 0, frames)]
    plan = []
    for out_start in range(0, frames, chunk_frames):
        out_end = min(frames, out_start + chunk_frames)
        in_start = min(max(0, out_start - context), frames - span)
        plan.append((in_start, in_start + span, out_start, out_end))
    return plan


class Vocoder:
    """log-mel (80, T) as SPEC §1 -> float32 waveform of 256·T samples in [-1, 1].

    mode "whole": the one-pass output, computed in chunks of `chunk_frames` with CONTEXT_FRAMES
    of context on each side (identical output, memory bounded by the chunk size); mode "window":
    the zoo's fixed `eval_length` windows, cross-faded (SPEC §5). The network runs in any backend
    of src.backends (MindSpore, onnxruntime, OpenVINO): all three modes only need its function
    from a normalized mel batch to audio, so output length and input checks are the same.
    """

    def __init__(self, generator, fast=True, mode="whole", eval_length=240, chunk_frames=240,
                 context=CONTEXT_FRAMES):
        """generator: a loaded src.model.Generator (run by MindSpore, as FastGenerator if `fast`) or
        any backend from src.backends.make_backend (onnxruntime, OpenVINO, an exported model)."""
        from src.backends import Backend, BackendError
        from src.backends.mindspore_backend import MindSporeBackend

        if mode not in ("whole", "window"):
            raise ValueError(f"mode must be 'whole' or 'window', got {mode!r}")
        if eval_length < 8 or chunk_frames < 1 or context < 0:
            raise ValueError("eval_length must be >= 8, chunk_frames >= 1, context >= 0")
        self.backend = generator if isinstance(generator, Backend) else MindSporeBackend.from_generator(generator,
                                                                                                        fast=fast)
        self.generator = getattr(self.backend, "generator", None)
        fixed = self.backend.fixed_frames
        if fixed is not None and (mode != "window" or eval_length != fixed):
            # Chunks and stream pieces are spans of chunk + 2·context frames, a short input is shorter:
            # only the zoo's window mode feeds a fixed-shape model its one length.
            raise BackendError(f"this exported model takes exactly {fixed} frames: use window mode with "
                             f"eval_length {fixed}, or export with a dynamic frame axis (--dynamic_length True)")
        self.mode = mode
        self.eval_length = eval_length
        self.chunk_frames = chunk_frames
        self.context = context
        self.shapes_seen = set()  # input shapes run so far (a new shape may cost a graph compile)
        self.warned = set()  # names of inputs already warned about (warn_if_not_log_mel)

    @classmethod
    def from_checkpoint(cls, path, device_target="CPU", alpha=0.2, device_id=None, backend="mindspore",
                        precision="fp32", threads=0, **kwargs):
        """Load a training, generator-only or public zoo checkpoint, or an exported .onnx / .mindir,
        into `backend` (src.backends) at `precision`; kwargs go to Vocoder()."""
        from src.backends import make_backend

        if device_id is None:
            ms.set_device(device_target)
        else:
            ms.set_device(device_target, device_id)
        return cls(make_backend(backend, path, precision, alpha=alpha, threads=threads), **kwargs)

    def load_weights(self, generator):
        """Take `generator`'s current weights (e.g. mid-training), keeping the compiled graphs."""
        self.backend.load_weights(generator)
        return self

    def run(self, normalized):
        """The network on normalized mel (B, 80, T) -> numpy (B, 256·T)."""
        self.shapes_seen.add(tuple(normalized.shape))
        return self.backend(np.ascontiguousarray(normalized, dtype=np.float32))

    def __call__(self, log_mel, mode=None, name="log_mel"):
        log_mel = check_mel(log_mel, name)
        warn_if_not_log_mel(log_mel, name, self.warned)
        if (mode or self.mode) == "window":
            return self.windowed(log_mel)
        return self.whole(log_mel)

    def whole(self, log_mel):
        normalized = normalize_mel(np.asarray(log_mel, dtype=np.float32))
        frames = normalized.shape[1]
        audio = np.empty(frames * HOP, dtype=np.float32)
        for in_start, in_end, out_start, out_end in _chunk_plan(frames, self.chunk_frames, self.context):
            out = self.run(normalized[None, :, in_start:in_end])[0]
            audio[out_start * HOP: out_end * HOP] = out[(out_start - in_start) * HOP: (out_end - in_start) * HOP]
        return audio

    def windowed(self, log_mel):
        windows = split_windows(log_mel, self.eval_length)
        outputs = np.stack([self.run(w[None])[0] for w in windows])  # one fixed shape: one graph
        return merge_windows(outputs, log_mel.shape[1], self.eval_length)

    def stream(self, chunk_frames=None):
        """A VocoderStream: push mel frames as they arrive, get the one-pass audio back in pieces."""
        return VocoderStream(self, chunk_frames or self.chunk_frames)


class VocoderStream:
    """Streaming synthesis. `push(frames)` returns the audio that is final so far; `flush()` the rest.

    Audio for frame f is emitted once frame f + context has arrived, in whole chunks, so the
    latency is at most chunk_frames + context frames (256 samples each). The concatenated pieces
    equal the one-pass output of the whole mel; memory holds chunk + 2·context frames only.
    """

    def __init__(self, vocoder, chunk_frames):
        self.vocoder = vocoder
        self.chunk = chunk_frames
        self.context = vocoder.context
        self.buffer = np.zeros((80, 0), dtype=np.float32)  # normalized frames from buffer_start on
        self.buffer_start = 0
        self.received = 0
        self.emitted = 0  # frames whose audio was returned
        self.closed = False
        self.warned = set()

    @property
    def latency_frames(self):
        return self.chunk + self.context

    def push(self, log_mel):
        if self.closed:
            raise ValueError("stream already flushed")
        log_mel = np.asarray(log_mel)
        if log_mel.ndim == 2 and log_mel.shape[0] == 80 and log_mel.shape[1] == 0:
            return np.zeros(0, dtype=np.float32)
        log_mel = check_mel(log_mel, "streamed mel")
        warn_if_not_log_mel(log_mel, "streamed mel", self.warned)
        self.buffer = np.concatenate([self.buffer, normalize_mel(log_mel)], axis=1)
        self.received += log_mel.shape[1]
        pieces = []
        while self.received - self.emitted >= self.chunk + self.context:
            pieces.append(self._emit(self.emitted + self.chunk, self.emitted + self.chunk + self.context))
        return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)

    def flush(self):
        """Audio for every remaining frame (the input's true end is known now)."""
        self.closed = True
        if self.received == self.emitted:
            return np.zeros(0, dtype=np.float32)
        # The tail is computed from the last chunk + 2·context frames, the shape every middle
        # chunk has, so no graph is compiled for it (fewer than chunk + context frames remain).
        return self._emit(self.received, self.received, max(0, self.received - self.span))

    @property
    def span(self):
        return self.chunk + 2 * self.context

    def _emit(self, out_end, in_end, in_start=None):
        if in_start is None:
            in_start = max(0, self.emitted - self.context)
        window = self.buffer[:, in_start - self.buffer_start: in_end - self.buffer_start]
        out = self.vocoder.run(window[None])[0]
        audio = out[(self.emitted - in_start) * HOP: (out_end - in_start) * HOP]
        self.emitted = out_end
        # Older frames are never needed again: the next chunk starts `context` before `emitted`,
        # and the tail at flush reaches back at most one span from the end.
        keep_from = max(0, min(self.emitted - self.context, self.received - self.span))
        self.buffer = self.buffer[:, keep_from - self.buffer_start:]
        self.buffer_start = keep_from
        return audio
