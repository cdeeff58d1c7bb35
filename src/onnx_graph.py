"""The generator as an ONNX graph written directly from its weights with the `onnx` package.

MindSpore 2.10's ONNX exporter needs a fixed frame count, cannot convert transposed convolutions
or padding ops, and writes `pad_mode="pad"` padding on the wrong axis. Written here instead, the
graph is what runtimes fuse best: Conv with its zero padding in `pads`, LeakyRelu, Tanh, and a frame axis declared dynamic,
input `mel [N, 80, T]` (normalized log-mel) -> `audio [N, 1, hop·T]`, built from src.architecture's table.

- Every convolution is 2-D over `[N, C, 1, T]` (one Unsqueeze after the input, one Squeeze before
  the output), each transposed convolution a ConvTranspose. In 2-D, OpenVINO's CPU plugin runs the
  ConvTranspose with its brgemm kernels (1-D: a slow gemm one) and keeps the whole network in one
  channels-last layout: no Reorder or Transpose anywhere. The earlier polyphase form (a Conv per
  transposed conv, its phases interleaved by Reshape/Transpose/Reshape) spent time in both and
  computed 1.5× the upsamplers' FLOPs (zero taps); docs/backends.md has the measurements.
- Each residual block's 1×1 conv and 1×1 shortcut stay two Convs plus an Add (runtimes fuse
  Conv+Add+activation; one conv over [h; x] needs a Concat that costs a copy).
Numerically the checkpoint's Generator to float rounding (≤ 1e-5 on its inputs).
"""
import numpy as np

from src.settings import KEY as SETTINGS_KEY, ZOO_SETTINGS, ModelSettings, settings_of

OPSET = 17
IR_VERSION = 8  # what onnxruntime 1.32 and OpenVINO 2026.4 read; onnx 1.23 would write a newer one


def generator_params(generator):
    """{checkpoint parameter name: float32 array} of a loaded src.model.Generator."""
    return {p.name: p.asnumpy().astype(np.float32) for p in generator.get_parameters()}


class _Graph:
    """Accumulates nodes and initializers; names are generated in order."""

    def __init__(self):
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes, self.initializers = [], []
        self.count = 0

    def _name(self, prefix):
        self.count += 1
        return f"{prefix}_{self.count}"

    def const(self, array, prefix, name=None):
        name = name or self._name(prefix)
        self.initializers.append(self.numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(self, op_type, inputs, output=None, **attrs):
        output = output or self._name(op_type.lower())
        self.nodes.append(self.helper.make_node(op_type, inputs, [output], name=output, **attrs))
        return output

    def params(self, weight, bias, name):
        """A layer's weight and bias initializers, under its checkpoint names (`name`.weight, `name`.bias):
        profilers and tools that show a node's inputs then say which layer it is."""
        return [self.const(weight.astype(np.float32), "w", f"{name}.weight"),
                self.const(bias.astype(np.float32), "b", f"{name}.bias")]

    def conv(self, x, weight, bias, name, pad=(0, 0), dilation=1):
        """Conv over [N, C, 1, T]; weight (out, in, 1, k), a checkpoint's Conv1d layout."""
        return self.op("Conv", [x, *self.params(weight, bias, name)], name, kernel_shape=[1, weight.shape[3]],
                       pads=[0, pad[0], 0, pad[1]], dilations=[1, dilation], strides=[1, 1])

    def lrelu(self, x, alpha):
        return self.op("LeakyRelu", [x], alpha=float(alpha))

    def upsample(self, x, weight, bias, name, stride, padding):
        """ConvTranspose over [N, C, 1, T]; weight (in, out, 1, K), a checkpoint's Conv1dTranspose layout."""
        return self.op("ConvTranspose", [x, *self.params(weight, bias, name)], name, kernel_shape=[1, weight.shape[3]],
                       strides=[1, stride], pads=[0, padding, 0, padding])

    def axis(self, op_type, x, axis):
        """Unsqueeze / Squeeze of one axis."""
        return self.op(op_type, [x, self.const(np.array([axis], np.int64), "axes")])


def build_model(params, alpha=None, settings=ZOO_SETTINGS):
    """onnx.ModelProto of the generator `settings` describe, with these weights (checkpoint names);
    the settings travel in the model's metadata (`melgan_settings`)."""
    from onnx import TensorProto, checker, helper

    arch = settings.arch()
    alpha = arch.leaky_alpha if alpha is None else alpha
    g = _Graph()

    def conv(x, name, pad=(0, 0), dilation=1):  # named by its checkpoint prefix, as its parameters are
        return g.conv(x, params[f"{name}.weight"], params[f"{name}.bias"], name, pad=pad, dilation=dilation)

    x = g.lrelu(conv(g.axis("Unsqueeze", "mel", 2), arch.first_conv, pad=(arch.in_kernel // 2,) * 2), alpha)
    for i, _, _, up in arch.stages():
        name = arch.upsampler_name(i)
        x = g.upsample(x, params[f"{name}.weight"], params[f"{name}.bias"], name, up.stride, up.padding)
        for j, dilation in enumerate(arch.dilations, start=1):
            dil, out, short = arch.block_names(i, j)
            h = conv(g.lrelu(x, alpha), dil, pad=(dilation * (arch.res_kernel // 2),) * 2, dilation=dilation)
            h = conv(g.lrelu(h, alpha), out)
            x = g.op("Add", [h, conv(x, short)])
        x = g.lrelu(x, alpha)
    x = conv(x, arch.last_conv, pad=(arch.out_kernel // 2,) * 2)
    g.op("Tanh", [g.axis("Squeeze", x, 2)], "audio")
    graph = helper.make_graph(
        g.nodes, "melgan_generator",
        [helper.make_tensor_value_info("mel", TensorProto.FLOAT, ["N", arch.mel_channels, "T"])],
        [helper.make_tensor_value_info("audio", TensorProto.FLOAT, ["N", 1, "samples"])],
        g.initializers)
    model = helper.make_model(graph, producer_name="melgan-mindspore",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    helper.set_model_props(model, {SETTINGS_KEY: settings.to_json()})
    checker.check_model(model)
    return model


def read_settings(path):
    """The settings in an ONNX file's metadata; the zoo's for a file without them. One BackendError
    line for a file that is not ONNX."""
    import onnx

    from src.errors import BackendError

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # protobuf's DecodeError and friends
        raise BackendError(f"{path}: damaged or not an ONNX model ({str(e).strip().splitlines()[0][:160] if str(e) else type(e).__name__})") from None
    props = {p.key: p.value for p in model.metadata_props}
    return ModelSettings.from_json(props[SETTINGS_KEY], path) if SETTINGS_KEY in props else ZOO_SETTINGS


def from_generator(generator, alpha=None):
    """build_model from a loaded Generator (its LeakyReLU slope unless `alpha` is given)."""
    alpha = float(generator.leaky_relu.alpha) if alpha is None else alpha
    return build_model(generator_params(generator), alpha, settings_of(generator))
