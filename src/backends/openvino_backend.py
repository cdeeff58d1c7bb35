"""OpenVINO (CPU plugin) on the direct ONNX graph or an .onnx file; fp32 exact, bf16 where the CPU has it.

A shape that recurs gets a model compiled for it (static shapes let the CPU plugin pick its best
kernels, ~10-25 % faster here; chunks and stream pieces have one shape by design, their last ones
and short inputs at most three more, src/windows.chunk_plan). A length seen once (a short stream,
an input shorter than a quarter span) runs through the dynamic-shape model instead of paying ~0.5 s
of compiling. At most MAX_SHAPES static models stay compiled, so memory stays flat however many
files of different lengths pass through.
"""
from collections import OrderedDict

import numpy as np

from src.backends import BackendError, OnnxSourced, first_time, input_frames, require
from src.settings import ZOO_SETTINGS

PRECISION_HINTS = {"fp32": "f32", "bf16": "bf16"}  # also the openvino.Type attribute of each
MAX_SHAPES = 4


class OpenVinoBackend(OnnxSourced):
    name = package = "openvino"
    few_shapes = True

    def __init__(self, model, source, precision="fp32", threads=0, settings=ZOO_SETTINGS):
        """model: a path or the serialized ONNX bytes; source names it in messages; settings: what it expects."""
        super().__init__(precision)
        self.settings = settings
        ov = self.ov = require("openvino", self.name)
        self.core = ov.Core()
        try:
            self.model = self.core.read_model(model) if isinstance(model, str) else \
                self.core.read_model(model, b"")
        except Exception as e:  # OpenVINO raises RuntimeError with a multi-line trace for bad files
            raise BackendError(f"{source}: damaged or not an ONNX model ({_first_line(e)})") from None
        shape = self.model.inputs[0].get_partial_shape()
        dims = [d.get_length() if d.is_static else None for d in shape]
        self.fixed_frames = input_frames(dims, source, settings.features.n_mels)
        self.source = source
        # Always explicit: on AMX CPUs OpenVINO's default is bf16, which would make fp32 inexact.
        self.config = {"INFERENCE_PRECISION_HINT": PRECISION_HINTS[precision], "PERFORMANCE_HINT": "LATENCY"}
        if threads:
            self.config["INFERENCE_NUM_THREADS"] = str(threads)
        self.requests = OrderedDict()  # input shape -> infer request of the model compiled for it
        self.seen_once = set()  # shapes run once, through the dynamic-shape model
        self.dynamic_request = None

    def _request(self, shape):
        """The request for this input shape: a model compiled for it once the shape recurs (chunks,
        stream pieces), the dynamic-shape model for a length seen once (no compile)."""
        request = self.requests.get(shape)
        if request is not None:
            self.requests.move_to_end(shape)
            return request
        if self.fixed_frames is None and first_time(self.seen_once, shape):
            if self.dynamic_request is None:
                self.dynamic_request = self._compile(self.model, "any length")
            return self.dynamic_request
        model = self.model.clone()
        model.reshape({model.inputs[0]: list(shape)})
        request = self.requests[shape] = self._compile(model, f"input {list(shape)}")
        while len(self.requests) > MAX_SHAPES:
            self.requests.popitem(last=False)
        return request

    def _compile(self, model, what):
        from src import cpu_dispatch

        try:
            with cpu_dispatch.uncapped():
                compiled = self.core.compile_model(model, "CPU", self.config)
        except Exception as e:
            raise BackendError(f"{self.source}: OpenVINO cannot compile it for {what} at {self.precision} "
                               f"({_first_line(e)})") from None
        got = compiled.get_property("INFERENCE_PRECISION_HINT")
        if got != getattr(self.ov.Type, PRECISION_HINTS[self.precision]):  # never a silent other precision
            raise BackendError(f"OpenVINO would run {got} here where {self.precision} was asked for")
        return compiled.create_infer_request()

    def __call__(self, normalized):
        normalized = np.ascontiguousarray(normalized, dtype=np.float32)
        request = self._request(tuple(normalized.shape))
        out = request.infer({0: normalized})[0]
        return np.array(out, dtype=np.float32).reshape(normalized.shape[0], -1)


def _first_line(error):
    lines = [line.strip() for line in str(error).splitlines() if line.strip() and not line.startswith("Exception from")]
    return (lines[0] if lines else type(error).__name__)[:160]
