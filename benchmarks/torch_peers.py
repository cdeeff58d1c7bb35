"""The benchmarks' PyTorch peers of the MelGAN networks, built from src.architecture's tables.

    from benchmarks.torch_peers import Generator, MultiDiscriminator, load_generator_weights, inference_runner
    run = inference_runner("weights.npz", threads=2)    # ndarray (B, 80, T) -> ndarray (B, 1, hop*T)

Reference implementations for speed comparisons only (torch is a benchmark-only dependency,
requirements-bench.txt): the same functions as src/model.py, written as lean as PyTorch allows so
the comparison is fair to it: zero padding inside each convolution (no pad layers), no weight norm
(the zoo has none), LeakyReLU as a function, inference under `torch.inference_mode()`.

Weights come from a MindSpore generator's parameters under the public checkpoint's names
(src.architecture's `first_conv`, `upsampler_name(i)`, `block_names(i, j)`, `last_conv`):
MindSpore stores Conv1d weights 4-D `(out, in, 1, k)` and Conv1dTranspose `(in, out, 1, k)`; dropping
the third axis gives PyTorch's Conv1d `(out, in, k)` and ConvTranspose1d `(in, out, k)` layouts.

Imports torch and NumPy, never MindSpore: the peer runs in its own process. Importing `src.architecture`
runs `src/__init__.py` (src.cpu_dispatch.configure()), which leaves alone the oneDNN setting a benchmark
hands the peer through `src.cpu_dispatch.peer_environ()` (ONEDNN_MAX_CPU_ISA=ALL, no project marker,
so it counts as the user's choice): PyTorch's oneDNN is not capped by MindSpore's fix.
"""
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from src.architecture import DISCRIMINATOR, GENERATOR


class ResBlock(nn.Module):
    """x -> conv_out(lrelu(conv_dilated(lrelu(x)))) + shortcut(x), one dilation of a residual stack."""

    def __init__(self, channels, kernel, dilation, alpha):
        super().__init__()
        self.alpha = alpha
        self.dilated = nn.Conv1d(channels, channels, kernel, padding=dilation * (kernel // 2), dilation=dilation)
        self.out = nn.Conv1d(channels, channels, 1)
        self.shortcut = nn.Conv1d(channels, channels, 1)

    def forward(self, x):
        h = self.dilated(F.leaky_relu(x, self.alpha))
        return self.out(F.leaky_relu(h, self.alpha)) + self.shortcut(x)


class Generator(nn.Module):
    """Normalized log-mel `(B, mel_channels, T)` -> waveform `(B, 1, hop*T)`, built from `arch`."""

    def __init__(self, arch=GENERATOR, alpha=None):
        super().__init__()
        self.arch = arch
        self.alpha = arch.leaky_alpha if alpha is None else alpha
        self.first = nn.Conv1d(arch.mel_channels, arch.channels, arch.in_kernel, padding=arch.in_kernel // 2)
        self.ups = nn.ModuleList()
        self.stacks = nn.ModuleList()
        for _, c_in, c_out, up in arch.stages():
            self.ups.append(nn.ConvTranspose1d(c_in, c_out, up.kernel, up.stride, up.padding))
            self.stacks.append(nn.Sequential(*(ResBlock(c_out, arch.res_kernel, d, self.alpha)
                                               for d in arch.dilations)))
        self.last = nn.Conv1d(arch.last_channels, 1, arch.out_kernel, padding=arch.out_kernel // 2)

    def forward(self, mel):
        x = F.leaky_relu(self.first(mel), self.alpha)
        for up, stack in zip(self.ups, self.stacks):
            x = F.leaky_relu(stack(up(x)), self.alpha)
        return torch.tanh(self.last(x))

    def convs_by_checkpoint_name(self):
        """{MindSpore parameter prefix (arch.conv_names() order): the PyTorch conv holding those weights}."""
        arch = self.arch
        convs = {arch.first_conv: self.first}
        for (i, _, _, _), up, stack in zip(arch.stages(), self.ups, self.stacks):
            convs[arch.upsampler_name(i)] = up
            for j, block in enumerate(stack, start=1):
                convs.update(zip(arch.block_names(i, j), (block.dilated, block.out, block.shortcut)))
        convs[arch.last_conv] = self.last
        return convs


class Discriminator(nn.Module):
    """One scale: `arch.layers` in order, LeakyReLU after all but the last; returns every layer's output."""

    def __init__(self, arch=DISCRIMINATOR, alpha=None):
        super().__init__()
        self.alpha = arch.leaky_alpha if alpha is None else alpha
        convs, channels = [], 1
        for layer in arch.layers:
            convs.append(nn.Conv1d(channels, layer.out_channels, layer.kernel, layer.stride, layer.padding))
            channels = layer.out_channels
        self.convs = nn.ModuleList(convs[:-1])  # each followed by LeakyReLU
        self.score = convs[-1]

    def forward(self, x):
        outputs = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), self.alpha)
            outputs.append(x)
        outputs.append(self.score(x))
        return outputs


class MultiDiscriminator(nn.Module):
    """`arch.scales` discriminators; each next scale sees the input through a learned stride-2 conv."""

    def __init__(self, arch=DISCRIMINATOR, alpha=None):
        super().__init__()
        pool = arch.pool_kernel
        self.discriminators = nn.ModuleList(Discriminator(arch, alpha) for _ in range(arch.scales))
        self.pools = nn.ModuleList(nn.Conv1d(1, 1, pool, stride=2, padding=pool // 2) for _ in range(arch.scales - 1))

    def forward(self, x):
        outputs = [self.discriminators[0](x)]
        for pool, discriminator in zip(self.pools, self.discriminators[1:]):
            x = pool(x)
            outputs.append(discriminator(x))
        return outputs


def _array(value):
    """A float32 ndarray from an array, a NumPy-loadable value or a MindSpore Parameter/Tensor (`.asnumpy()`)."""
    return np.asarray(value.asnumpy() if hasattr(value, "asnumpy") else value, dtype=np.float32)


def load_generator_weights(generator, params):
    """Copy a MindSpore generator's weights into `generator` (a torch_peers.Generator) and return it.

    `params`: {checkpoint parameter name: array} (a dict, `np.load` of an .npz written from
    `generator.get_parameters()`, or src.checkpoint.read_checkpoint's Parameters), or the path of
    such an .npz. Extra names (a discriminator, optimizer states) are ignored; a missing name or a
    shape that does not fit raises KeyError / ValueError naming it.
    """
    if isinstance(params, (str, bytes)) or hasattr(params, "__fspath__"):
        with np.load(params) as npz:
            params = dict(npz)
    with torch.no_grad():
        for prefix, conv in generator.convs_by_checkpoint_name().items():
            for kind in ("weight", "bias"):
                name = f"{prefix}.{kind}"
                if name not in params:
                    raise KeyError(f"generator parameter '{name}' is missing from the weights")
                value = _array(params[name])
                if value.ndim == 4:
                    value = value[:, :, 0, :]  # (out|in, in|out, 1, k) -> PyTorch's (.., .., k)
                target = getattr(conv, kind)
                if tuple(value.shape) != tuple(target.shape):
                    raise ValueError(f"'{name}' has shape {value.shape}, the PyTorch peer needs {tuple(target.shape)}")
                target.copy_(torch.from_numpy(np.ascontiguousarray(value)))
    return generator


def inference_runner(params, threads=None, arch=GENERATOR):
    """A function ndarray mel (B, mel_channels, T) -> ndarray audio (B, 1, hop*T): the PyTorch peer in
    eager inference mode with the given weights (see load_generator_weights), on `threads` threads."""
    if threads:
        torch.set_num_threads(threads)
    # Frozen weights: with weights that require grad it measured ~15% more CPU time (PyTorch 2.13),
    # inference_mode or not.
    generator = load_generator_weights(Generator(arch), params).eval().requires_grad_(False)

    def run(mel):
        with torch.inference_mode():
            return generator(torch.from_numpy(np.ascontiguousarray(mel, dtype=np.float32))).numpy()

    return run
