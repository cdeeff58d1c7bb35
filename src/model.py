"""The zoo MelGAN networks (SPEC §2–§3) in MindSpore, built from src/architecture.py's tables, with the
public checkpoint's parameter names.

Zero padding is done by the convolutions themselves (`pad_mode="pad"`): numerically identical
to the zoo's separate `nn.Pad` cells, and about twice as fast in graph mode on CPU. Where the
zoo had a pad cell inside a `SequentialCell`, an `nn.Identity` keeps the index, so parameter
names (`rses_1.block1.2.conv.weight`, `dis1.conv1.1.conv.weight`, ...) match the zoo's.
"""
import mindspore.nn as nn

from src.architecture import DISCRIMINATOR, GENERATOR


class Conv1d_t(nn.Cell):
    """nn.Conv1d behind a `.conv` attribute (the zoo's wrapper; gives the `*.conv.weight` names).

    Weights stay 4-D `(out, in, 1, k)` as MindSpore stores them; the public checkpoint relies on it.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1):
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, stride=stride,
                              pad_mode="pad", padding=padding, dilation=dilation, has_bias=True,
                              weight_init="xavier_uniform", bias_init="zeros")

    def construct(self, x):
        return self.conv(x)


class Conv1d_Transpose(nn.Cell):
    """nn.Conv1dTranspose behind a `.conv` attribute; weights `(in, out, 1, k)`."""

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding):
        super().__init__()
        self.conv = nn.Conv1dTranspose(in_channels, out_channels, kernel_size, stride=stride,
                                       pad_mode="pad", padding=padding, has_bias=True,
                                       weight_init="xavier_uniform", bias_init="zeros")

    def construct(self, x):
        return self.conv(x)


def _name_like_the_zoo(cell, named):
    """Give `cell` attributes `named` (name -> sub-cell already held in one of its CellLists).

    The loops in `construct` run over CellLists, but the public checkpoint names parameters by the
    zoo's attributes (`rses_1.block2.…`, `dis3.conv4.…`). MindSpore names a parameter after the
    attribute path it was last assigned under, and a parent names its children's parameters by the
    first path it finds to them: so the zoo's names are assigned last, and put first in the search.
    """
    lists = [key for key, sub in cell._cells.items() if isinstance(sub, nn.CellList)]  # pylint: disable=protected-access
    for name, sub in named.items():
        setattr(cell, name, sub)
    for key in lists:
        cell._cells.move_to_end(key)  # pylint: disable=protected-access


def _res_block(channel, dilation, kernel, alpha):
    # Index 1 was the zoo's nn.Pad; the conv pads instead, Identity keeps the names.
    return nn.SequentialCell([
        nn.LeakyReLU(alpha),
        nn.Identity(),
        Conv1d_t(channel, channel, kernel, padding=dilation * (kernel // 2), dilation=dilation),
        nn.LeakyReLU(alpha),
        Conv1d_t(channel, channel, 1),
    ])


class ResStack(nn.Cell):
    """Residual blocks in sequence, one per dilation: x = block_d(x) + shortcut_d(x)."""

    def __init__(self, channel, dilations=GENERATOR.dilations, kernel=GENERATOR.res_kernel, alpha=0.2):
        super().__init__()
        self.pairs = nn.CellList([nn.CellList([_res_block(channel, d, kernel, alpha), Conv1d_t(channel, channel, 1)])
                                  for d in dilations])
        _name_like_the_zoo(self, {f"{kind}{j}": pair[k] for j, pair in enumerate(self.pairs, start=1)
                                  for k, kind in enumerate(("block", "shortcut"))})

    def construct(self, x):
        for pair in self.pairs:
            x = pair[0](x) + pair[1](x)
        return x


class Generator(nn.Cell):
    """Normalized log-mel `(B, mel_channels, T)` -> waveform `(B, 1, hop*T)` in [-1, 1], built from `arch`."""

    def __init__(self, alpha=None, arch=GENERATOR):
        super().__init__()
        alpha = arch.leaky_alpha if alpha is None else alpha
        self.arch = arch
        self.conv1d_1 = Conv1d_t(arch.mel_channels, arch.channels, arch.in_kernel, padding=arch.in_kernel // 2)
        self.leaky_relu = nn.LeakyReLU(alpha)
        self.stages = nn.CellList([nn.SequentialCell([
            Conv1d_Transpose(c_in, c_out, up.kernel, up.stride, up.padding),
            ResStack(c_out, arch.dilations, arch.res_kernel, alpha), nn.LeakyReLU(alpha)])
            for _, c_in, c_out, up in arch.stages()])
        _name_like_the_zoo(self, {f"{kind}{i}": stage[k] for i, stage in enumerate(self.stages, start=1)
                                  for k, kind in enumerate(("conv1dtran_", "rses_", "leaky_relu"))})
        self.conv1d_2 = Conv1d_t(arch.last_channels, 1, arch.out_kernel, padding=arch.out_kernel // 2)
        self.tanh = nn.Tanh()

    def construct(self, x):
        x = self.leaky_relu(self.conv1d_1(x))
        for stage in self.stages:
            x = stage(x)
        return self.tanh(self.conv1d_2(x))


class Discriminator(nn.Cell):
    """One scale: every layer's output, the feature maps then the score map (`len(arch.layers)` outputs).

    conv1 is [Identity, conv, LReLU] (index 0 was the zoo's pad cell), the middle ones [conv, LReLU],
    the last a bare conv: the public checkpoint's names (`dis1.conv1.1.conv.weight`, `dis1.conv2.0...`).
    """

    def __init__(self, alpha=None, arch=DISCRIMINATOR):
        super().__init__()
        alpha = arch.leaky_alpha if alpha is None else alpha
        layers, channels = [], 1
        last = len(arch.layers)
        for n, layer in enumerate(arch.layers, start=1):
            conv = Conv1d_t(channels, layer.out_channels, layer.kernel, layer.stride, layer.padding)
            if n == last:
                layers.append(conv)
            else:
                layers.append(nn.SequentialCell(([nn.Identity()] if n == 1 else []) + [conv, nn.LeakyReLU(alpha)]))
            channels = layer.out_channels
        self.layers = nn.CellList(layers)
        _name_like_the_zoo(self, {f"conv{n}": cell for n, cell in enumerate(self.layers, start=1)})

    def construct(self, x):
        outputs = ()
        for layer in self.layers:
            x = layer(x)
            outputs += (x,)
        return outputs


class MultiDiscriminator(nn.Cell):
    """`arch.scales` discriminators; each next scale sees the input through a learned stride-2 conv."""

    def __init__(self, arch=DISCRIMINATOR):
        super().__init__()
        self.arch = arch
        pool = arch.pool_kernel
        self.discriminators = nn.CellList([Discriminator(arch=arch) for _ in range(arch.scales)])
        self.pools = nn.CellList([Conv1d_t(1, 1, pool, stride=2, padding=pool // 2) for _ in range(arch.scales - 1)])
        names = {f"dis{k}": cell for k, cell in enumerate(self.discriminators, start=1)}
        names.update({f"avg{k}": cell for k, cell in enumerate(self.pools, start=1)})
        _name_like_the_zoo(self, names)

    def construct(self, x):
        outputs = ()
        for k, discriminator in enumerate(self.discriminators):
            if k > 0:
                x = self.pools[k - 1](x)
            outputs += (discriminator(x),)
        return outputs


def count_parameters(net):
    total = 0
    for p in net.get_parameters():
        n = 1
        for d in p.shape:
            n *= d
        total += n
    return total


def save_generator(generator, path, settings):
    """The generator alone, as users share it (the zoo's public file has this layout), with the settings
    it was trained for under src.settings.KEY so that the file says what it expects."""
    from src.checkpoint import save_checkpoint  # pylint: disable=import-outside-toplevel
    from src.settings import KEY  # pylint: disable=import-outside-toplevel

    save_checkpoint(generator, path, append_dict={KEY: settings.to_json()})


def load_generator(path, alpha=None):
    """A plain Generator in inference mode with the weights of a training, generator-only or public
    zoo checkpoint (src.checkpoint checks the file: one CheckpointError line otherwise), built for the
    settings the checkpoint carries (the zoo's when it carries none); `generator.settings` says them."""
    from src.checkpoint import load_into, read_checkpoint  # pylint: disable=import-outside-toplevel
    from src.settings import from_checkpoint_params  # pylint: disable=import-outside-toplevel

    params = read_checkpoint(path)
    settings = from_checkpoint_params(params, path)
    generator = Generator(alpha, settings.arch())
    load_into(generator, params, path, "generator")
    generator.set_train(False)
    generator.settings = settings
    return generator
