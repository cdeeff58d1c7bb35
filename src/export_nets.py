"""An ONNX-exportable generator: the same function as `src.model.Generator`, other operators.

MindSpore 2.10's ONNX exporter cannot convert `nn.Conv1dTranspose` (no `Conv2DBackpropInput`
in its convert map) nor constant-pad ops (`PadV3`), and it writes `Conv1d(pad_mode="pad")`
padding on the wrong axis. This formulation uses only operators it exports correctly:

- a transposed convolution (stride s, output length s*L) is an ordinary convolution that
  produces the s output phases as channels, followed by an interleave (polyphase form);
- undilated convolutions with odd kernels use `pad_mode="same"` (symmetric zero padding);
- dilated convolutions get their zero padding by concatenating zeros, then `pad_mode="valid"`.

Built from a loaded `Generator`, so both share the weights; outputs agree to float rounding.
The frame axis must be fixed when exporting to ONNX (MindSpore refuses dynamic shapes there).
"""
import numpy as np

import mindspore as ms
import mindspore.nn as nn
import mindspore.ops as ops


def _conv1d(weight, bias, pad_mode, dilation=1):
    """nn.Conv1d holding the given (out, in, 1, k) weight and (out,) bias."""
    out_channels, in_channels, _, kernel = weight.shape
    # nn.Conv1d takes a 3-D initial weight and stores it 4-D.
    conv = nn.Conv1d(in_channels, out_channels, kernel, pad_mode=pad_mode, dilation=dilation, has_bias=True,
                     weight_init=ms.Tensor(weight[:, :, 0, :], ms.float32), bias_init=ms.Tensor(bias, ms.float32))
    return conv


def _time_padding(conv):
    # nn.Conv1d / nn.Conv1dTranspose keep a 2-D layout: padding is (top, bottom, left, right).
    return conv.padding if isinstance(conv.padding, int) else conv.padding[2]


def _numpy(param):
    return param.asnumpy().astype(np.float32)


class ZeroPaddedConv1d(nn.Cell):
    """Zero padding by concatenation (exports as Concat), then an unpadded dilated convolution."""

    def __init__(self, weight, bias, padding, dilation):
        super().__init__()
        self.padding = padding
        self.channels = weight.shape[1]
        self.concat = ops.Concat(axis=2)
        self.conv = _conv1d(weight, bias, "valid", dilation)

    def construct(self, x):
        zeros = ops.zeros((x.shape[0], self.channels, self.padding), x.dtype)
        return self.conv(self.concat((zeros, x, zeros)))


def _same_conv(src_conv):
    """An undilated, odd-kernel, symmetrically padded zoo conv as a `same` conv (or a k1 conv)."""
    conv = src_conv.conv
    kernel = conv.weight.shape[-1]
    pad = _time_padding(conv)
    if kernel % 2 != 1 or pad != kernel // 2 or conv.stride[-1] != 1:
        raise ValueError(f"cannot express conv (k={kernel}, padding={pad}) as a 'same' convolution")
    return _conv1d(_numpy(conv.weight), _numpy(conv.bias), "same" if kernel > 1 else "valid")


def _dilated_conv(src_conv):
    conv = src_conv.conv
    dilation = conv.dilation[-1]
    pad = _time_padding(conv)
    if dilation == 1:
        return _same_conv(src_conv)
    return ZeroPaddedConv1d(_numpy(conv.weight), _numpy(conv.bias), pad, dilation)


def polyphase_weights(weight, bias, stride, padding):
    """ConvTranspose1d weights (in, out, 1, K) -> an ordinary conv's (out*stride, in, 1, J) and bias.

    Output sample n = m*stride + r of the transposed conv is
    `y[m*stride + r] = sum_j w[j*stride + r + padding] . x[m - j]`, a correlation over x with
    taps j in [j_min, j_max]. Output channel `co*stride + r` of the returned conv holds phase r
    of channel co, read at input offsets m - j_max .. m - j_min; the caller pads x by j_max on the
    left and -j_min on the right. Returns (weight, bias, left_pad, right_pad).
    """
    in_channels, out_channels, _, kernel = weight.shape
    if kernel - 2 * padding != stride:
        raise ValueError(f"polyphase form needs output length stride*L (kernel {kernel}, stride {stride}, "
                         f"padding {padding})")
    taps = [(j, r) for r in range(stride) for j in range(-kernel, kernel + 1)
            if 0 <= j * stride + r + padding < kernel]
    j_min = min(j for j, _ in taps)
    j_max = max(j for j, _ in taps)
    width = j_max - j_min + 1
    poly = np.zeros((out_channels * stride, in_channels, 1, width), np.float32)
    for j, r in taps:
        k = j * stride + r + padding
        t = j_max - j  # correlation tap index: x[m - j] = xpad[m + t] with left pad j_max
        poly[r::stride, :, 0, t] = weight[:, :, 0, k].T
    return poly, np.repeat(bias, stride).astype(np.float32), j_max, -j_min


class PolyphaseConvTranspose1d(nn.Cell):
    """Transposed conv (output length stride*L) as a conv producing `stride` phases + interleave."""

    def __init__(self, src_conv):
        super().__init__()
        conv = src_conv.conv
        stride = conv.stride[-1]
        pad = _time_padding(conv)
        weight, bias, left, right = polyphase_weights(_numpy(conv.weight), _numpy(conv.bias), stride, pad)
        self.stride = stride
        self.out_channels = weight.shape[0] // stride
        if left == right and weight.shape[-1] % 2 == 1:
            self.conv = _conv1d(weight, bias, "same")
        else:
            raise ValueError(f"asymmetric polyphase padding ({left}, {right}) is not needed by MelGAN")

    def construct(self, x):
        y = self.conv(x)
        batch, length = y.shape[0], y.shape[2]
        y = ops.reshape(y, (batch, self.out_channels, self.stride, length))
        y = ops.transpose(y, (0, 1, 3, 2))
        return ops.reshape(y, (batch, self.out_channels, length * self.stride))


class _ResStack(nn.Cell):
    def __init__(self, src, alpha):
        super().__init__()
        self.act = nn.LeakyReLU(alpha)
        self.dilated = nn.CellList([_dilated_conv(getattr(src, f"block{i}")[2]) for i in (1, 2, 3)])
        self.pointwise = nn.CellList([_same_conv(getattr(src, f"block{i}")[4]) for i in (1, 2, 3)])
        self.shortcut = nn.CellList([_same_conv(getattr(src, f"shortcut{i}")) for i in (1, 2, 3)])

    def construct(self, x):
        for i in range(3):
            block = self.pointwise[i](self.act(self.dilated[i](self.act(x))))
            x = block + self.shortcut[i](x)
        return x


class OnnxGenerator(nn.Cell):
    """`Generator` rewritten with ONNX-exportable operators; takes its weights from `generator`."""

    def __init__(self, generator, alpha=0.2):
        super().__init__()
        self.act = nn.LeakyReLU(alpha)
        self.conv_in = _same_conv(generator.conv1d_1)
        self.ups = nn.CellList([PolyphaseConvTranspose1d(getattr(generator, f"conv1dtran_{i}")) for i in range(1, 5)])
        self.stacks = nn.CellList([_ResStack(getattr(generator, f"rses_{i}"), alpha) for i in range(1, 5)])
        self.conv_out = _same_conv(generator.conv1d_2)
        self.tanh = nn.Tanh()

    def construct(self, x):
        x = self.act(self.conv_in(x))
        for i in range(4):
            x = self.act(self.stacks[i](self.ups[i](x)))
        return self.tanh(self.conv_out(x))
