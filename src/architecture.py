"""The networks described once, as data (SPEC §2–§3): every path derives from these tables.

The MindSpore training networks (src/model.py), the fast inference graph (src/fast_generator.py),
the ONNX writer (src/onnx_graph.py), the chunking context of src/inference.py and the benchmarks'
PyTorch peers all read `GENERATOR` and `DISCRIMINATOR`; none repeats a kernel size, a channel
count or a parameter name. Pure Python: importing it needs neither MindSpore nor NumPy.
"""
import math
from dataclasses import dataclass, field

from src.errors import ConfigError


@dataclass(frozen=True)
class Upsampler:
    """One transposed convolution: channels halve, time grows by `stride`."""
    stride: int
    kernel: int
    padding: int


@dataclass(frozen=True)
class GeneratorArch:
    """pad·Conv(k7) → LReLU → [ConvT(stride) → ResStack(dilations) → LReLU] × len(upsamplers) → pad·Conv(k7) → tanh.

    ResStack(c): for each dilation d, x = block_d(x) + shortcut_d(x), block_d = LReLU → Conv(c→c, k3,
    dilation d, padding d) → LReLU → Conv(c→c, k1), shortcut_d = Conv(c→c, k1).
    """
    mel_channels: int = 80
    channels: int = 512             # after the first conv; each upsampler halves it
    in_kernel: int = 7
    out_kernel: int = 7
    res_kernel: int = 3
    upsamplers: tuple = (Upsampler(8, 16, 4), Upsampler(8, 16, 4), Upsampler(2, 4, 1), Upsampler(2, 4, 1))
    dilations: tuple = (1, 3, 9)
    leaky_alpha: float = 0.2

    @classmethod
    def with_upsampling(cls, strides, base=None):
        """The zoo's generator with other upsampling strides (one transposed conv per stride, channels
        halving from 512): kernel 2s (2s + 1 for odd s) and padding ceil(s / 2), so each stage's output
        is exactly s times longer, as the zoo's (8, 16, 4) and (2, 4, 1) are."""
        base = base or cls()
        ups = tuple(Upsampler(s, 2 * s + s % 2, (s + 1) // 2) for s in strides)
        return cls(base.mel_channels, base.channels, base.in_kernel, base.out_kernel, base.res_kernel, ups,
                   base.dilations, base.leaky_alpha)

    @property
    def upsample_rates(self):
        return tuple(u.stride for u in self.upsamplers)

    @property
    def hop(self):
        """Audio samples per mel frame: the product of the upsampling strides."""
        return math.prod(u.stride for u in self.upsamplers)

    def stages(self):
        """(index from 1, in_channels, out_channels, Upsampler) per upsampling stage."""
        channels = self.channels
        for i, up in enumerate(self.upsamplers, start=1):
            yield i, channels, channels // 2, up
            channels //= 2

    @property
    def last_channels(self):
        return self.channels >> len(self.upsamplers)

    # ---- the public checkpoint's parameter names (prefixes of `.weight` / `.bias`) ----
    first_conv = "conv1d_1.conv"
    last_conv = "conv1d_2.conv"

    @staticmethod
    def upsampler_name(i):
        return f"conv1dtran_{i}.conv"

    @staticmethod
    def stack_name(i):
        return f"rses_{i}"

    @staticmethod
    def block_names(i, j):
        """(dilated k3 conv, k1 conv, k1 shortcut) of residual block j of stack i (both from 1).
        Indices 2 and 4 are the convs' places in the zoo's block SequentialCell (its pad cell was 1)."""
        return f"rses_{i}.block{j}.2.conv", f"rses_{i}.block{j}.4.conv", f"rses_{i}.shortcut{j}.conv"

    def conv_names(self):
        """Every conv's parameter prefix, in the order the network applies them."""
        names = [self.first_conv]
        for i, _, _, _ in self.stages():
            names.append(self.upsampler_name(i))
            for j in range(1, len(self.dilations) + 1):
                names.extend(self.block_names(i, j))
        return names + [self.last_conv]

    def context_frames(self):
        """Mel frames of context on each side after which more input cannot change an output sample:
        the receptive field's half-width, summed layer by layer at each layer's own rate and rounded up.
        A chunk computed with this much context on each side equals the one-pass output."""
        reach = (self.in_kernel // 2) / 1.0  # first conv, at the frame rate
        rate = 1
        for _, _, _, up in self.stages():
            reach += math.ceil(up.kernel / up.stride) / rate  # input samples a transposed conv output reads
            rate *= up.stride
            reach += sum(d * (self.res_kernel // 2) for d in self.dilations) / rate
        reach += (self.out_kernel // 2) / rate
        return math.ceil(reach)


@dataclass(frozen=True)
class DiscriminatorLayer:
    out_channels: int
    kernel: int
    stride: int
    padding: int


def _zoo_layers():
    return (DiscriminatorLayer(16, 15, 1, 7), DiscriminatorLayer(64, 41, 4, 20), DiscriminatorLayer(256, 41, 4, 20),
            DiscriminatorLayer(1024, 41, 4, 20), DiscriminatorLayer(1024, 11, 4, 5), DiscriminatorLayer(1024, 3, 1, 1),
            DiscriminatorLayer(1, 3, 1, 1))


@dataclass(frozen=True)
class DiscriminatorArch:
    """`scales` identical discriminators (dis1..); scale k+1 sees scale k's input through a learned
    Conv(1→1, `pool_kernel`, stride 2) (`avg1`, `avg2`, ...). Each applies `layers` in order, LReLU after
    all but the last, and returns every layer's output (feature maps, then the score map)."""
    layers: tuple = field(default_factory=_zoo_layers)
    scales: int = 3
    pool_kernel: int = 5
    leaky_alpha: float = 0.2

    def narrowed(self, divisor):
        """The same shape of network with every hidden width divided by `divisor` (the score stays 1
        channel): tests train this instead of the zoo's 78 M parameters."""
        layers = tuple(DiscriminatorLayer(max(1, l.out_channels // divisor) if i < len(self.layers) - 1 else
                                          l.out_channels, l.kernel, l.stride, l.padding)
                       for i, l in enumerate(self.layers))
        return DiscriminatorArch(layers, self.scales, self.pool_kernel, self.leaky_alpha)


GENERATOR = GeneratorArch()


def generator_from_config(cfg):
    """The generator the config's `upsample_rates` describe (the zoo's [8, 8, 2, 2] by default);
    one ConfigError line for a value that cannot be a list of upsampling strides."""
    rates = getattr(cfg, "upsample_rates", list(GENERATOR.upsample_rates))
    if (not isinstance(rates, (list, tuple)) or not rates
            or not all(isinstance(r, int) and not isinstance(r, bool) and r >= 1 for r in rates)):
        raise ConfigError(f"config: upsample_rates must be a list of positive integers, got {rates!r}")
    if GENERATOR.channels >> len(rates) < 1:
        raise ConfigError(f"config: upsample_rates has {len(rates)} stages; the generator halves its "
                          f"{GENERATOR.channels} channels at each, so at most {GENERATOR.channels.bit_length() - 1}")
    return GeneratorArch.with_upsampling(tuple(rates))
DISCRIMINATOR = DiscriminatorArch()
