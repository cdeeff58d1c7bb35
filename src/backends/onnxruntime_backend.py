"""onnxruntime (CPU execution provider) on the direct ONNX graph (src/onnx_graph.py) or an .onnx file."""
import numpy as np

from src.backends import BackendError, OnnxSourced, input_frames, require
from src.settings import ZOO_SETTINGS


class OnnxRuntimeBackend(OnnxSourced):
    name = package = "onnxruntime"

    def __init__(self, model, source, precision="fp32", threads=0, settings=ZOO_SETTINGS):
        """model: a path or the serialized ONNX bytes; source names it in messages; settings: what it expects."""
        super().__init__(precision)
        self.settings = settings
        ort = require("onnxruntime", self.name)
        try:
            self.session = ort.InferenceSession(model, self.session_options(threads), providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types for unreadable models
            raise BackendError(f"{source}: damaged or not an ONNX model ({str(e).strip().splitlines()[0][:160]})") \
                from None
        inp = self.session.get_inputs()[0]
        shape = [d if isinstance(d, int) else None for d in inp.shape]
        self.fixed_frames = input_frames(shape, source, settings.features.n_mels)
        self.input_name = inp.name

    @staticmethod
    def session_options(threads=0):
        """The session options this backend runs with (benchmarks/bench_backends.py --profile adds profiling)."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        # EXTENDED: every fusion (Conv+activation among them) but not ALL's NCHWc layout, which on this
        # graph's 2-D convs adds reorders around unfused Adds and LeakyRelus (docs/backends.md: slower)
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        return options

    def __call__(self, normalized):
        feed = {self.input_name: np.ascontiguousarray(normalized, dtype=np.float32)}
        return self.session.run(None, feed)[0].reshape(normalized.shape[0], -1)
