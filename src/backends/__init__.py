"""Inference backends: each is "a function from a normalized mel batch (B, 80, T) float32 to audio
(B, 256·T) float32", so src.inference (windows, chunks, streaming) works the same over any of them.

    backend = make_backend("openvino", "melgan.ckpt", precision="bf16")
    audio = backend(normalized_mel_batch)

A source is a checkpoint (the ONNX graph is built in memory from its weights, src/onnx_graph.py),
an exported `.onnx` (onnxruntime, OpenVINO) or an exported `.mindir` (MindSpore). Every failure a
user can cause (missing package, damaged file, unsupported precision) is a BackendError: one line.
"""
import os

BACKENDS = ("mindspore", "onnxruntime", "openvino")
PRECISIONS = ("fp32", "bf16")
SOURCE_KINDS = {".ckpt": "checkpoint", ".onnx": "onnx", ".mindir": "mindir"}


from src.errors import BackendError  # noqa: E402  (re-exported: the backends' one error)
from src.settings import ZOO_SETTINGS, settings_of  # noqa: E402


class Backend:
    """Base of the backends: `__call__(normalized) -> audio`, plus what Vocoder needs to know.

    fixed_frames: the frame count a fixed-shape model takes (None: any length).
    few_shapes: a length seen once runs much slower than a compiled shape (OpenVINO: ~2x per frame),
    so whole mode cuts short inputs into the chunks' shapes too (src/windows.chunk_plan).
    """

    name = ""
    fixed_frames = None
    few_shapes = False
    choice = ""  # why this backend, when --backend auto chose it
    settings = ZOO_SETTINGS  # what the model expects (src/settings.py); the zoo's unless the source says

    def __init__(self, precision):
        self.precision = precision

    def __call__(self, normalized):
        raise NotImplementedError

    def describe(self):
        return f"{self.name} {self.precision}" + (f" ({self.choice})" if self.choice else "")

    def load_weights(self, generator):
        raise BackendError(f"the {self.name} backend cannot take new weights: build it again from the checkpoint")


class OnnxSourced(Backend):
    """A backend that runs an ONNX model: built in memory from a Generator, or read from a file.
    Subclasses take (model: path or serialized bytes, source: its name in messages, precision, threads,
    settings: what the model expects)."""

    file_kinds = ("onnx",)
    package = ""

    @classmethod
    def require(cls):
        require(cls.package, cls.name)

    @classmethod
    def from_generator(cls, generator, precision="fp32", alpha=0.2, threads=0):
        from src import onnx_graph

        require("onnx", cls.name)
        return cls(onnx_graph.from_generator(generator).SerializeToString(), "checkpoint graph", precision, threads,
                   settings_of(generator))

    @classmethod
    def from_file(cls, path, precision="fp32", threads=0):
        from src import onnx_graph

        require("onnx", cls.name)
        return cls(path, path, precision, threads, onnx_graph.read_settings(path))


def source_kind(source):
    """'checkpoint' | 'onnx' | 'mindir' from the file name (an unknown suffix is read as a checkpoint)."""
    return SOURCE_KINDS.get(os.path.splitext(str(source))[1].lower(), "checkpoint")


def require(module, backend):
    """Import a runtime's package, or one line naming the package and the pin to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise BackendError(f"--backend {backend} needs the Python package '{module}', which is not installed "
                           f"(pip install {module} as pinned in requirements.txt)") from None


def check_precision(name, precision):
    """Refuse bf16 where it cannot be fast: on this CPU, or in a backend with no bf16 CPU path."""
    from src import cpu_dispatch

    if precision not in PRECISIONS:
        raise BackendError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "bf16":
        supported, reason = cpu_dispatch.bf16_support()
        if not supported:
            raise BackendError(reason)
        if name != "openvino":
            raise BackendError(f"--precision bf16 is served by --backend openvino only: {name} has no bf16 CPU "
                               f"path worth using (it would run slower than fp32)")


def load_checkpoint_generator(source, alpha):
    from src.model import load_generator

    return load_generator(str(source), alpha)


def make_backend(name, source, precision="fp32", alpha=0.2, threads=0, device_target="CPU"):
    """The backend `name` running `source` (checkpoint, .onnx or .mindir) at `precision`.

    name "auto": the fastest installed runtime that reproduces the checkpoint (src/backends/choice.py);
    the backend's `choice` then says which and why. threads: intra-op threads for onnxruntime /
    OpenVINO (0: the runtime's default, all cores). A loaded src.model.Generator may be passed as
    `source` too (no file involved).
    """
    if name not in BACKENDS + ("auto",):
        raise BackendError(f"--backend must be one of auto, {', '.join(BACKENDS)}, got {name!r}")
    if name == "auto":
        from src.backends import choice

        kind = source_kind(source) if isinstance(source, (str, os.PathLike)) else "checkpoint"
        if kind == "checkpoint" and isinstance(source, (str, os.PathLike)):
            source = load_checkpoint_generator(source, alpha)  # a bad file stops here, before any measuring
        # measured on the network the source holds (its rate, hop and upsampling), not the zoo's
        name, reason = choice.choose(kind, device_target, precision, _source_settings(source, kind))
        backend = make_backend(name, source, precision, alpha, threads, device_target)
        backend.choice = reason
        return backend
    check_precision(name, precision)
    if name == "mindspore":
        from src.backends.mindspore_backend import MindSporeBackend as cls
    elif name == "onnxruntime":
        from src.backends.onnxruntime_backend import OnnxRuntimeBackend as cls
    else:
        from src.backends.openvino_backend import OpenVinoBackend as cls
    cls.require()  # a missing package says so before a checkpoint is read
    if not isinstance(source, (str, os.PathLike)):
        return cls.from_generator(source, precision, alpha=alpha, threads=threads)
    kind = source_kind(source)
    if kind == "checkpoint":  # src.checkpoint checks the file (CheckpointError, one line)
        return cls.from_generator(load_checkpoint_generator(source, alpha), precision, alpha=alpha, threads=threads)
    if kind not in cls.file_kinds:
        raise BackendError(f"{source}: --backend {name} cannot run a .{kind} file (it runs "
                           f"{' or '.join('a checkpoint' if k == 'checkpoint' else '.' + k for k in ('checkpoint',) + cls.file_kinds)})")
    from src.fileio import check_input_file

    check_input_file(source, "model", BackendError)
    return cls.from_file(str(source), precision, threads=threads)


def _source_settings(source, kind):
    """The ModelSettings of a generator, checkpoint-loaded generator, .onnx or .mindir (its sidecar)."""
    from src.fileio import check_input_file
    from src.settings import read_sidecar, settings_of

    if not isinstance(source, (str, os.PathLike)):
        return settings_of(source)
    check_input_file(source, "model", BackendError)
    if kind == "onnx":
        from src.onnx_graph import read_settings

        return read_settings(source)
    return read_sidecar(str(source))


def first_time(seen, key, limit=1024):
    """Whether `key` (an input shape) is new to the set `seen`, adding it. The set is emptied past
    `limit` keys, so memory stays bounded however many shapes (short files, last chunks) pass through."""
    if key in seen:
        return False
    if len(seen) > limit:
        seen.clear()
    seen.add(key)
    return True


def input_frames(shape, source, n_mels=ZOO_SETTINGS.features.n_mels):
    """Frame count of a model's input shape [N, n_mels, T] (None if T is dynamic); checks the mel bands."""
    if len(shape) != 3 or (shape[1] is not None and shape[1] != n_mels):
        raise BackendError(f"{source}: not a MelGAN generator (input shape {list(shape)}, expected [N, {n_mels}, T])")
    return shape[2]
