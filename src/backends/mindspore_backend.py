"""MindSpore: the compiled FastGenerator (from a checkpoint) or an exported MINDIR (mindspore.load).

A shape that recurs (chunks, stream pieces, fixed windows) gets a graph compiled for it; a length seen
once (a short file of a corpus) runs through one graph compiled for any length instead of paying a
compile (~1 s) per file, as the OpenVINO backend does. The any-length graph is a little slower.
"""
import numpy as np

from src.backends import Backend, BackendError, first_time, input_frames
from src.settings import read_sidecar, settings_of


class MindSporeBackend(Backend):
    name = "mindspore"
    file_kinds = ("mindir",)

    def __init__(self, net, precision="fp32", generator=None, fixed_frames=None):
        super().__init__(precision)
        import mindspore as ms

        self.ms = ms
        self.generator = generator  # the plain Generator, when built from one
        self.net = net
        # graph-compiled per input shape, whatever the global mode (a GraphCell is compiled already)
        self.compiled = net if isinstance(net, ms.nn.GraphCell) else ms.jit(net)
        self.fixed_frames = fixed_frames
        self.any_length_net = self.any_length = None  # a second FastGenerator, for a dynamic frame axis
        self.seen_once = set()
        if generator is not None:
            self.settings = settings_of(generator)
            if net is not generator:  # the fast path; never the caller's own (e.g. training) network
                self.any_length_net = type(net).from_generator(generator)
                self.any_length_net.set_inputs(ms.Tensor(shape=[None, self.settings.features.n_mels, None],
                                                         dtype=ms.float32))
                self.any_length = ms.jit(self.any_length_net)

    @staticmethod
    def require():
        import mindspore  # noqa: F401  (always installed: the project's framework)

    @classmethod
    def from_generator(cls, generator, precision="fp32", alpha=None, threads=0, fast=True):
        from src.fast_generator import FastGenerator

        return cls(FastGenerator.from_generator(generator) if fast else generator, precision, generator)

    @classmethod
    def from_file(cls, path, precision="fp32", threads=0):
        import mindspore as ms

        try:
            graph = ms.nn.GraphCell(ms.load(path))
        except (RuntimeError, ValueError, TypeError, OSError) as e:
            raise BackendError(f"{path}: damaged or not a MINDIR model ({str(e).strip().splitlines()[0][:160]})") \
                from None
        backend = cls(graph, precision)
        backend.settings = read_sidecar(path)
        backend.fixed_frames = input_frames(_mindir_input_shape(path), path, backend.settings.features.n_mels)
        return backend

    def load_weights(self, generator):
        """The net's parameters refreshed in place from `generator` (a compiled graph keeps reading
        the old buffers after set_data in MindSpore 2.10, so no new net and no recompiling)."""
        if self.generator is None:
            raise BackendError("an exported MINDIR has fixed weights: load_weights needs a checkpoint's Generator")
        from src.fast_generator import FastGenerator

        fresh = generator if self.net is self.generator else FastGenerator.from_generator(generator)
        for net in filter(None, (self.net, self.any_length_net)):
            for mine, theirs in zip(net.get_parameters(), fresh.get_parameters()):
                mine.copy_(self.ms.Tensor(theirs.asnumpy()))

    def __call__(self, normalized):
        shape = tuple(normalized.shape)
        net = self.compiled
        if self.any_length is not None and first_time(self.seen_once, shape):
            net = self.any_length
        out = net(self.ms.Tensor(np.ascontiguousarray(normalized, dtype=np.float32)))
        return out.asnumpy().reshape(normalized.shape[0], -1)


def _mindir_input_shape(path):
    """[N, 80, T] of a MINDIR's input, None for a dynamic axis (mindspore.load does not expose it)."""
    from mindspore.train import mind_ir_pb2

    model = mind_ir_pb2.ModelProto()
    with open(path, "rb") as f:
        model.ParseFromString(f.read())
    dims = list(model.graph.input[0].tensor[0].dims)
    return [d if d >= 0 else None for d in dims]
