"""The Vocoder API and streaming, on top of the backends (src/backends).

Two ways to vocode a log-mel `(80, T)`:
- whole-utterance: one generator pass (or exact chunks of it for bounded memory), no seams;
- windows (SPEC §5): fixed `eval_length`-frame windows overlapping by `eval_length // 8`,
  cross-faded linearly — what fixed-shape deployments (exported MINDIR, Ascend 310) run.
The cutting and merging is src/windows.py's (NumPy only). Both modes, and streaming, need from the
network only a function normalized mel (B, 80, T) -> audio (B, hop·T): any backend of src/backends
(MindSpore, onnxruntime, OpenVINO; docs/backends.md).
"""
import sys
from collections import deque

import numpy as np

from src import cpu_dispatch
from src.audio import check_mel, warn_if_not_log_mel
from src.backends import Backend, BackendError, make_backend
from src.backends.mindspore_backend import MindSporeBackend
from src.errors import ConfigError
from src.features import normalize_mel
from src.windows import chunk_plan, last_chunk_start, merge_windows, split_windows


RECENT_INPUTS = 8  # a length among the last this many inputs runs whole (Vocoder._cut_short)


class Vocoder:
    """log-mel (n_mels, T) with the model's features -> float32 waveform of hop·T samples in [-1, 1].

    `settings` (src/settings.py) say which features the model expects: the zoo's 80 bands and hop 256
    unless its checkpoint or exported file says otherwise.
    mode "whole": the one-pass output, computed in chunks of `chunk_frames` with the generator's
    context on each side (identical output, memory bounded by the chunk size); mode "window":
    the zoo's fixed `eval_length` windows, cross-faded (SPEC §5). The network runs in any backend
    of src.backends (MindSpore, onnxruntime, OpenVINO): all three modes only need its function
    from a normalized mel batch to audio, so output length and input checks are the same.
    """

    def __init__(self, generator, fast=True, mode="whole", eval_length=240, chunk_frames=240, context=None):
        """generator: a loaded src.model.Generator (run by MindSpore, as FastGenerator if `fast`) or
        any backend from src.backends.make_backend (onnxruntime, OpenVINO, an exported model)."""
        if mode not in ("whole", "window"):
            raise ConfigError(f"mode must be 'whole' or 'window', got {mode!r}")
        self.backend = generator if isinstance(generator, Backend) else MindSporeBackend.from_generator(generator,
                                                                                                        fast=fast)
        self.settings = self.backend.settings
        self.hop = self.settings.features.hop
        self.n_mels = self.settings.features.n_mels
        if context is None:  # enough for chunks to equal the one-pass output (src/architecture.py)
            context = self.settings.arch().context_frames()
        if eval_length < 8 or chunk_frames < 1 or context < 0:
            raise ConfigError("eval_length must be >= 8, chunk_frames >= 1, context >= 0")
        self.generator = getattr(self.backend, "generator", None)
        fixed = self.backend.fixed_frames
        if fixed is not None and (mode != "window" or eval_length != fixed):
            # Chunks and stream pieces are spans of chunk + 2·context frames, a last chunk or a short
            # input is shorter: only the zoo's window mode feeds a fixed-shape model its one length.
            raise BackendError(f"this exported model takes exactly {fixed} frames: use window mode with "
                             f"eval_length {fixed}, or export with a dynamic frame axis (--dynamic_length True)")
        self.mode = mode
        self.eval_length = eval_length
        self.chunk_frames = chunk_frames
        self.context = context
        self.shapes_seen = set()  # input shapes run so far (a new shape may cost a graph compile)
        self.recent_lengths = deque(maxlen=RECENT_INPUTS)  # the last inputs' lengths (_cut_short)
        self.warned = set()  # names of inputs already warned about (warn_if_not_log_mel)

    @classmethod
    def from_checkpoint(cls, path, device_target="CPU", alpha=0.2, device_id=None, backend="auto",
                        precision="fp32", threads=0, verbose=True, **kwargs):
        """Load a training, generator-only or public zoo checkpoint, or an exported .onnx / .mindir,
        into `backend` (src.backends; "auto": the fastest installed runtime that reproduces the
        checkpoint, see src/backends/choice.py) at `precision`; kwargs go to Vocoder(). With
        `verbose`, one line on stderr says the runtime and the features the model expects."""
        cpu_dispatch.set_device(device_target, device_id)
        vocoder = cls(make_backend(backend, path, precision, alpha=alpha, threads=threads,
                                   device_target=device_target), **kwargs)
        if verbose:
            print(f"vocoder: {path}: {vocoder.backend.describe()}; model settings: {vocoder.settings.describe()}",
                  file=sys.stderr)
        return vocoder

    def load_weights(self, generator):
        """Take `generator`'s current weights (e.g. mid-training), keeping the compiled graphs."""
        self.backend.load_weights(generator)
        return self

    def run(self, normalized):
        """The network on normalized mel (B, n_mels, T) -> numpy (B, hop·T)."""
        self.shapes_seen.add(tuple(normalized.shape))
        return self.backend(np.ascontiguousarray(normalized, dtype=np.float32))

    def __call__(self, log_mel, mode=None, name="log_mel"):
        log_mel = check_mel(log_mel, name, self.n_mels)
        warn_if_not_log_mel(log_mel, name, self.warned)
        if (mode or self.mode) == "window":
            return self.windowed(log_mel)
        return self.whole(log_mel)

    def whole(self, log_mel):
        normalized = normalize_mel(np.asarray(log_mel, dtype=np.float32))
        frames = normalized.shape[1]
        hop = self.hop
        audio = np.empty(frames * hop, dtype=np.float32)
        plan = chunk_plan(frames, self.chunk_frames, self.context, self._cut_short(frames))
        for in_start, in_end, out_start, out_end in plan:
            out = self.run(normalized[None, :, in_start:in_end])[0]
            audio[out_start * hop: out_end * hop] = out[(out_start - in_start) * hop: (out_end - in_start) * hop]
        return audio

    def _cut_short(self, frames):
        """Whether an input of at most a span is cut into the chunks' shapes (src/windows.chunk_plan):
        on a backend much slower on a length it sees once, unless the same length is among the last
        RECENT_INPUTS inputs. A length recurring that soon (repeated requests, a benchmark's window)
        runs whole, so that the backend compiles it, then faster than the cut's extra frames. A corpus's
        lengths seldom recur that soon; compiling every length that recurs at all would evict the chunks'
        shapes from the backend's few compiled models (simulated, 10 000 files of 1-10 s through OpenVINO:
        3 774 compiles of ~0.3 s, against 4 with this rule and 2.3 % more frames computed)."""
        recurring = frames in self.recent_lengths
        self.recent_lengths.append(frames)
        return self.backend.few_shapes and not recurring

    def windowed(self, log_mel):
        windows = split_windows(log_mel, self.eval_length)
        outputs = np.stack([self.run(w[None])[0] for w in windows])  # one fixed shape: one graph
        return merge_windows(outputs, log_mel.shape[1], self.eval_length, self.hop)

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
        self.buffer = np.zeros((vocoder.n_mels, 0), dtype=np.float32)  # normalized frames from buffer_start on
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
        if log_mel.ndim == 2 and log_mel.shape[0] == self.vocoder.n_mels and log_mel.shape[1] == 0:
            return np.zeros(0, dtype=np.float32)
        log_mel = check_mel(log_mel, "streamed mel", self.vocoder.n_mels)
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
        # the tail, as whole mode's last chunk: at most three shapes besides the chunks' one
        return self._emit(self.received, self.received,
                          last_chunk_start(self.received, self.emitted, self.span, self.context))

    @property
    def span(self):
        return self.chunk + 2 * self.context

    def _emit(self, out_end, in_end, in_start=None):
        if in_start is None:
            in_start = max(0, self.emitted - self.context)
        window = self.buffer[:, in_start - self.buffer_start: in_end - self.buffer_start]
        out = self.vocoder.run(window[None])[0]
        hop = self.vocoder.hop
        audio = out[(self.emitted - in_start) * hop: (out_end - in_start) * hop]
        self.emitted = out_end
        # Older frames are never needed again: the next chunk starts `context` before `emitted`,
        # and the tail at flush reaches back at most one span from the end.
        keep_from = max(0, min(self.emitted - self.context, self.received - self.span))
        self.buffer = self.buffer[:, keep_from - self.buffer_start:]
        self.buffer_start = keep_from
        return audio
