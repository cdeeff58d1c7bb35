"""The inference-only generator: the same function as src.model.Generator (≤ 1e-5), faster on CPU,
built from src.architecture's table and a checkpoint's weights.

Rewrites: zero padding inside every convolution; the whole net kept 4-D (no expand/squeeze around
each conv); per residual block, the 1×1 conv, the 1×1 shortcut, both biases and the residual add
fused into ONE 1×1 conv over the concatenated channels [h; x; 1] (the constant-one channel carries
the bias). Input normalized log-mel (B, mel_channels, T) -> waveform (B, 1, hop·T).
"""
import numpy as np
import mindspore as ms
import mindspore.nn as nn
import mindspore.ops as ops

from src.architecture import GENERATOR


def _constant(array, name):
    return ms.Parameter(ms.Tensor(np.ascontiguousarray(array, dtype=np.float32)), name=name, requires_grad=False)


class _FusedResBlock(nn.Cell):
    """One residual block: x -> W_out·lrelu(conv_d(lrelu(x))) + b_out + W_short·x + b_short."""

    def __init__(self, channels, kernel, dilation, w_dil, b_dil, w_out, b_out, w_short, b_short, alpha):
        super().__init__()
        self.alpha = alpha
        pad = dilation * (kernel // 2)
        self.conv_dil = ops.Conv2D(channels, (1, kernel), pad_mode="pad", pad=(0, 0, pad, pad), dilation=(1, dilation))
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
    def __init__(self, out_channels, up, weight, bias):
        super().__init__()
        self.deconv = ops.Conv2DTranspose(out_channels, (1, up.kernel), pad_mode="pad",
                                          pad=(0, 0, up.padding, up.padding), stride=(1, up.stride))
        self.weight = _constant(weight, "weight")
        self.bias = _constant(bias, "bias")
        self.out_channels = out_channels
        self.stride = up.stride
        self.trim = up.kernel - 2 * up.padding

    def construct(self, x):
        out_len = (x.shape[3] - 1) * self.stride + self.trim
        y = self.deconv(x, self.weight, (x.shape[0], self.out_channels, 1, out_len))
        return ops.bias_add(y, self.bias)


class FastGenerator(nn.Cell):
    """`params`: {checkpoint parameter name: array} of a Generator of architecture `arch`."""

    def __init__(self, params, alpha=None, arch=GENERATOR):
        super().__init__()
        self.alpha = arch.leaky_alpha if alpha is None else alpha
        k_in, k_out = arch.in_kernel, arch.out_kernel
        self.conv_in = ops.Conv2D(arch.channels, (1, k_in), pad_mode="pad", pad=(0, 0, k_in // 2, k_in // 2))
        self.w_in = _constant(params[f"{arch.first_conv}.weight"], "w_in")
        self.b_in = _constant(params[f"{arch.first_conv}.bias"], "b_in")
        ups, stacks = [], []
        for i, _, c_out, up in arch.stages():
            name = arch.upsampler_name(i)
            ups.append(_Upsample(c_out, up, params[f"{name}.weight"], params[f"{name}.bias"]))
            blocks = []
            for j, dilation in enumerate(arch.dilations, start=1):
                dil, out, short = arch.block_names(i, j)
                blocks.append(_FusedResBlock(c_out, arch.res_kernel, dilation,
                                             params[f"{dil}.weight"], params[f"{dil}.bias"],
                                             params[f"{out}.weight"], params[f"{out}.bias"],
                                             params[f"{short}.weight"], params[f"{short}.bias"], self.alpha))
            stacks.append(nn.SequentialCell(blocks))
        self.ups = nn.CellList(ups)
        self.stacks = nn.CellList(stacks)
        self.conv_last = ops.Conv2D(1, (1, k_out), pad_mode="pad", pad=(0, 0, k_out // 2, k_out // 2))
        self.w_last = _constant(params[f"{arch.last_conv}.weight"], "w_last")
        self.b_last = _constant(params[f"{arch.last_conv}.bias"], "b_last")

    @classmethod
    def from_generator(cls, generator):
        """Build from a plain src.model.Generator (its current weights, LeakyReLU slope and architecture)."""
        params = {p.name: p.asnumpy() for p in generator.get_parameters()}
        net = cls(params, alpha=float(generator.leaky_relu.alpha), arch=generator.arch)
        net.set_train(False)
        return net

    def construct(self, mel):
        x = ops.expand_dims(mel, 2)
        x = ops.leaky_relu(ops.bias_add(self.conv_in(x, self.w_in), self.b_in), self.alpha)
        for up, stack in zip(self.ups, self.stacks):
            x = ops.leaky_relu(stack(up(x)), self.alpha)
        x = ops.tanh(ops.bias_add(self.conv_last(x, self.w_last), self.b_last))
        return ops.squeeze(x, 2)
