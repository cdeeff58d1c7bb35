"""Spectral reconstruction losses for the fast recipe (docs/training_recipes.md), off by default.

- MultiResolutionSTFTLoss: Parallel WaveGAN's (Yamamoto et al. 2020) spectral convergence +
  log STFT magnitude, averaged over three (fft, hop, win) resolutions.
- MelL1Loss: HiFi-GAN's L1 between log-mels, here the SPEC §1 log-mel (natural log, floor 1e-5).

The STFT is a fixed-weight convolution with a windowed DFT basis (stride = hop) after reflect
padding (center=True, as librosa/torch.stft): portable to every MindSpore device and
differentiable, unlike a native STFT op. Inputs are waveforms (B, 1, N).
"""
import numpy as np
import mindspore as ms
import mindspore.nn as nn
import mindspore.ops as ops

from src.features import ZOO, MelSettings

PWG_RESOLUTIONS = ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240))  # (fft, hop, win)
_MAG_FLOOR = 1e-7  # Parallel WaveGAN's clamp of the power before sqrt (keeps log and grad finite)


def dft_basis(n_fft, win_length):
    """(2 * (n_fft // 2 + 1), 1, n_fft) float32: rows win·cos then -win·sin, the Hann window
    (periodic, as librosa) of win_length centred in n_fft as librosa/torch pad it."""
    window = np.zeros(n_fft)
    start = (n_fft - win_length) // 2
    window[start:start + win_length] = np.hanning(win_length + 1)[:-1]
    bins = np.arange(n_fft // 2 + 1)[:, None]
    phase = 2 * np.pi * bins * np.arange(n_fft)[None, :] / n_fft
    basis = np.concatenate([window * np.cos(phase), -window * np.sin(phase)])
    return basis[:, None, :].astype(np.float32)


class STFTMagnitude(nn.Cell):
    """Waveform (B, 1, N) -> |STFT| (B, n_fft // 2 + 1, 1 + N // hop), center=True reflect padding."""

    def __init__(self, n_fft, hop, win_length, floor=_MAG_FLOOR):
        super().__init__()
        self.pad = n_fft // 2
        self.bins = n_fft // 2 + 1
        self.floor = floor
        self.basis = ms.Tensor(dft_basis(n_fft, win_length))  # a constant, not a Parameter
        self.conv = ops.Conv2D(2 * self.bins, (1, n_fft), stride=(1, hop))

    def construct(self, wav):
        n = wav.shape[-1]
        p = self.pad
        # Reflect padding written as slices: every backend differentiates flip + concat.
        left = ops.flip(wav[:, :, 1:p + 1], dims=(2,))
        right = ops.flip(wav[:, :, n - p - 1:n - 1], dims=(2,))
        x = ops.expand_dims(ops.concat((left, wav, right), 2), 2)  # (B, 1, 1, N + 2p)
        spec = ops.squeeze(self.conv(x, ops.expand_dims(self.basis, 2)), 2)
        real, imag = spec[:, :self.bins], spec[:, self.bins:]
        return ops.sqrt(ops.maximum(real * real + imag * imag, self.floor))


class STFTLoss(nn.Cell):
    """(spectral convergence, log magnitude L1) at one resolution (Parallel WaveGAN's STFTLoss)."""

    def __init__(self, n_fft, hop, win_length):
        super().__init__()
        self.stft = STFTMagnitude(n_fft, hop, win_length)

    def construct(self, fake, real):
        fake_mag, real_mag = self.stft(fake), ops.stop_gradient(self.stft(real))
        sc = ops.norm(real_mag - fake_mag) / ops.norm(real_mag)
        mag = ops.mean(ops.abs(ops.log(real_mag) - ops.log(fake_mag)))
        return sc, mag


class MultiResolutionSTFTLoss(nn.Cell):
    """Mean over resolutions of spectral convergence + mean of log-magnitude L1 (their sum)."""

    def __init__(self, resolutions=PWG_RESOLUTIONS):
        super().__init__()
        self.losses = nn.CellList([STFTLoss(*r) for r in resolutions])
        self.count = float(len(resolutions))

    def construct(self, fake, real):
        total = 0.0
        for loss in self.losses:
            sc, mag = loss(fake, real)
            total = total + sc + mag
        return total / self.count


class MelL1Loss(nn.Cell):
    """mean |log-mel(real) - log-mel(fake)| with the model's features (eval's log-mel L1 metric)."""

    def __init__(self, features=ZOO):
        super().__init__()
        self.stft = STFTMagnitude(features.n_fft, features.hop, features.win_length, floor=0.0)
        self.mel = ms.Tensor(features.basis())  # (n_mels, 1 + n_fft // 2)
        self.log_floor = features.log_floor

    def log_mel(self, wav):
        mel = ops.matmul(self.mel, self.stft(wav))  # (80, 513) @ (B, 513, T) -> (B, 80, T)
        return ops.log(ops.maximum(mel, self.log_floor))

    def construct(self, fake, real):
        return ops.mean(ops.abs(ops.stop_gradient(self.log_mel(real)) - self.log_mel(fake)))


class SpectralLoss(nn.Cell):
    """stft_weight · MultiResolutionSTFTLoss + mel_weight · MelL1Loss; only the enabled terms are built."""

    def __init__(self, stft_weight=0.0, mel_weight=0.0, features=ZOO):
        super().__init__()
        if stft_weight <= 0 and mel_weight <= 0:
            raise ValueError("SpectralLoss needs stft_loss_weight > 0 or mel_loss_weight > 0")
        self.stft_weight, self.mel_weight = float(stft_weight), float(mel_weight)
        self.stft = MultiResolutionSTFTLoss() if stft_weight > 0 else None
        self.mel = MelL1Loss(features) if mel_weight > 0 else None

    def construct(self, fake, real):
        total = 0.0
        if self.stft is not None:
            total = total + self.stft_weight * self.stft(fake, real)
        if self.mel is not None:
            total = total + self.mel_weight * self.mel(fake, real)
        return total


def build_spectral_loss(cfg):
    """The config's spectral loss, or None when both weights are 0 (the zoo's recipe)."""
    if cfg.stft_loss_weight <= 0 and cfg.mel_loss_weight <= 0:
        return None
    return SpectralLoss(cfg.stft_loss_weight, cfg.mel_loss_weight, MelSettings.from_config(cfg))
