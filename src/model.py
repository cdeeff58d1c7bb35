"""The zoo MelGAN networks (SPEC §2–§3), with the public checkpoint's parameter names.

Zero padding is done by the convolutions themselves (`pad_mode="pad"`): numerically identical
to the zoo's separate `nn.Pad` cells, and about twice as fast in graph mode on CPU. Where the
zoo had a pad cell inside a `SequentialCell`, an `nn.Identity` keeps the index, so parameter
names (`rses_1.block1.2.conv.weight`, `dis1.conv1.1.conv.weight`, ...) match the zoo's.
"""
import mindspore.nn as nn


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


def _res_block(channel, dilation, alpha):
    # Index 1 was the zoo's nn.Pad; the conv pads instead, Identity keeps the names.
    return nn.SequentialCell([
        nn.LeakyReLU(alpha),
        nn.Identity(),
        Conv1d_t(channel, channel, 3, padding=dilation, dilation=dilation),
        nn.LeakyReLU(alpha),
        Conv1d_t(channel, channel, 1),
    ])


class ResStack(nn.Cell):
    """Three residual blocks, dilations 1, 3, 9: x = block_d(x) + shortcut_d(x)."""

    def __init__(self, channel, alpha=0.2):
        super().__init__()
        self.block1 = _res_block(channel, 1, alpha)
        self.shortcut1 = Conv1d_t(channel, channel, 1)
        self.block2 = _res_block(channel, 3, alpha)
        self.shortcut2 = Conv1d_t(channel, channel, 1)
        self.block3 = _res_block(channel, 9, alpha)
        self.shortcut3 = Conv1d_t(channel, channel, 1)

    def construct(self, x):
        x = self.block1(x) + self.shortcut1(x)
        x = self.block2(x) + self.shortcut2(x)
        x = self.block3(x) + self.shortcut3(x)
        return x


class Generator(nn.Cell):
    """Normalized log-mel `(B, 80, T)` -> waveform `(B, 1, 256*T)` in [-1, 1]."""

    def __init__(self, alpha=0.2):
        super().__init__()
        self.conv1d_1 = Conv1d_t(80, 512, 7, padding=3)
        self.leaky_relu = nn.LeakyReLU(alpha)
        self.conv1dtran_1 = Conv1d_Transpose(512, 256, 16, stride=8, padding=4)
        self.rses_1 = ResStack(256, alpha)
        self.leaky_relu1 = nn.LeakyReLU(alpha)
        self.conv1dtran_2 = Conv1d_Transpose(256, 128, 16, stride=8, padding=4)
        self.rses_2 = ResStack(128, alpha)
        self.leaky_relu2 = nn.LeakyReLU(alpha)
        self.conv1dtran_3 = Conv1d_Transpose(128, 64, 4, stride=2, padding=1)
        self.rses_3 = ResStack(64, alpha)
        self.leaky_relu3 = nn.LeakyReLU(alpha)
        self.conv1dtran_4 = Conv1d_Transpose(64, 32, 4, stride=2, padding=1)
        self.rses_4 = ResStack(32, alpha)
        self.leaky_relu4 = nn.LeakyReLU(alpha)
        self.conv1d_2 = Conv1d_t(32, 1, 7, padding=3)
        self.tanh = nn.Tanh()

    def construct(self, x):
        x = self.leaky_relu(self.conv1d_1(x))
        x = self.leaky_relu1(self.rses_1(self.conv1dtran_1(x)))
        x = self.leaky_relu2(self.rses_2(self.conv1dtran_2(x)))
        x = self.leaky_relu3(self.rses_3(self.conv1dtran_3(x)))
        x = self.leaky_relu4(self.rses_4(self.conv1dtran_4(x)))
        return self.tanh(self.conv1d_2(x))


class Discriminator(nn.Cell):
    """One scale: returns its 6 feature maps and the score map (7 outputs)."""

    def __init__(self, alpha=0.2):
        super().__init__()
        self.conv1 = nn.SequentialCell([nn.Identity(), Conv1d_t(1, 16, 15, padding=7), nn.LeakyReLU(alpha)])
        self.conv2 = nn.SequentialCell([Conv1d_t(16, 64, 41, stride=4, padding=20), nn.LeakyReLU(alpha)])
        self.conv3 = nn.SequentialCell([Conv1d_t(64, 256, 41, stride=4, padding=20), nn.LeakyReLU(alpha)])
        self.conv4 = nn.SequentialCell([Conv1d_t(256, 1024, 41, stride=4, padding=20), nn.LeakyReLU(alpha)])
        self.conv5 = nn.SequentialCell([Conv1d_t(1024, 1024, 11, stride=4, padding=5), nn.LeakyReLU(alpha)])
        self.conv6 = nn.SequentialCell([Conv1d_t(1024, 1024, 3, padding=1), nn.LeakyReLU(alpha)])
        self.conv7 = Conv1d_t(1024, 1, 3, padding=1)

    def construct(self, x):
        x0 = self.conv1(x)
        x1 = self.conv2(x0)
        x2 = self.conv3(x1)
        x3 = self.conv4(x2)
        x4 = self.conv5(x3)
        x5 = self.conv6(x4)
        x6 = self.conv7(x5)
        return x0, x1, x2, x3, x4, x5, x6


class MultiDiscriminator(nn.Cell):
    """Three discriminators; scales 2 and 3 see the input through learned stride-2 convs."""

    def __init__(self):
        super().__init__()
        self.dis1 = Discriminator()
        self.dis2 = Discriminator()
        self.dis3 = Discriminator()
        self.avg1 = Conv1d_t(1, 1, 5, stride=2, padding=2)
        self.avg2 = Conv1d_t(1, 1, 5, stride=2, padding=2)

    def construct(self, x):
        y1 = self.dis1(x)
        x = self.avg1(x)
        y2 = self.dis2(x)
        x = self.avg2(x)
        y3 = self.dis3(x)
        return y1, y2, y3


def count_parameters(net):
    total = 0
    for p in net.get_parameters():
        n = 1
        for d in p.shape:
            n *= d
        total += n
    return total
