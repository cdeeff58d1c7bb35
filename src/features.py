"""The log-mel features described once (SPEC §1): one `MelSettings` object built from the config's
keys, used by preprocessing, the dataset, the spectral losses, copy synthesis and the metrics.

    features = MelSettings.from_config(cfg)     # sample, filter_length, win_length, hop_size, mel_num, fmin, fmax
    mel = features.log_mel(audio)               # (n_mels, 1 + len // hop), ln(max(mel, log_floor))
    net_input = normalize_mel(mel)              # what the network sees: (mel + 5) / 5

NumPy at import; librosa is imported when a mel basis or a spectrogram is first computed, so the
NumPy-only paths (inference windows, the C++ deployment's host steps) do not load it.
"""
import math
from dataclasses import asdict, dataclass

import numpy as np

from src.architecture import GENERATOR, generator_from_config
from src.errors import ConfigError, UserError

# What the network sees: (log_mel + MEL_OFFSET) / MEL_SCALE, in training and in inference (SPEC §1).
MEL_OFFSET = 5.0
MEL_SCALE = 5.0


@dataclass(frozen=True)
class MelSettings:
    """STFT magnitude (centred, reflect-padded, Hann) -> Slaney mel basis -> ln(max(mel, log_floor))."""
    sample_rate: int = 22050
    n_fft: int = 1024
    win_length: int = 1024
    hop: int = 256
    n_mels: int = 80
    fmin: float = 0.0
    fmax: float = 8000.0
    log_floor: float = 1e-5
    window: str = "hann"

    # config.yaml key -> field (the zoo's key names)
    CONFIG_KEYS = {"sample": "sample_rate", "filter_length": "n_fft", "win_length": "win_length",
                   "hop_size": "hop", "mel_num": "n_mels", "fmin": "fmin", "fmax": "fmax"}

    @classmethod
    def from_config(cls, cfg):
        """The settings the config's keys describe, checked against the generator its `upsample_rates`
        describe; one ConfigError line naming the key otherwise (never silently ignored)."""
        values = {field: getattr(cfg, key) for key, field in cls.CONFIG_KEYS.items()}
        features = cls(**{k: (float(v) if k in ("fmin", "fmax") else int(v)) for k, v in values.items()})
        features.check(generator_from_config(cfg))
        return features

    def check(self, arch=GENERATOR):
        """ConfigError (naming the config key) for settings this network or the STFT cannot take."""
        problems = [
            ("hop_size", self.hop == arch.hop,
             f"must equal the product of upsample_rates "
             f"({' x '.join(str(u.stride) for u in arch.upsamplers)} = {arch.hop}), got {self.hop}"),
            ("mel_num", self.n_mels == arch.mel_channels,
             f"must be {arch.mel_channels}, the generator's input channels, got {self.n_mels}"),
            ("sample", 8000 <= self.sample_rate <= 192000, f"must be a sample rate in Hz, got {self.sample_rate}"),
            ("filter_length", self.n_fft >= 2 and self.n_fft >= self.win_length,
             f"must be >= win_length ({self.win_length}), got {self.n_fft}"),
            ("win_length", self.win_length >= 1, f"must be >= 1, got {self.win_length}"),
            ("fmin", 0 <= self.fmin < self.fmax, f"must be in [0, fmax = {self.fmax:g}), got {self.fmin:g}"),
            ("fmax", self.fmax <= self.sample_rate / 2,
             f"must be at most the Nyquist frequency {self.sample_rate / 2:g} Hz, got {self.fmax:g}"),
        ]
        for key, ok, message in problems:
            if not ok:
                raise ConfigError(f"config: {key} {message}")
        return self

    def as_dict(self):
        return asdict(self)

    def differences(self, other):
        """[(setting, mine, other's)] for every setting that differs."""
        return [(name, getattr(self, name), getattr(other, name)) for name in self.as_dict()
                if getattr(self, name) != getattr(other, name)]

    def check_input(self, other, source):
        """FeatureMismatch naming each differing setting unless the input's features `other` are these."""
        diff = self.differences(other)
        if diff:
            raise FeatureMismatch(f"{source}: features differ from the model's: {list_differences(diff, 'model')}; "
                                  f"recompute them with the model's settings, or use a model trained on these")

    @property
    def log_min(self):
        """The smallest value a log-mel can take: ln(log_floor)."""
        return math.log(self.log_floor)

    def basis(self):
        """(n_mels, 1 + n_fft // 2) float32 mel filterbank: librosa's Slaney scale and area norm."""
        key = (self.sample_rate, self.n_fft, self.n_mels, self.fmin, self.fmax)
        if key not in _BASES:
            import librosa  # pylint: disable=import-outside-toplevel

            _BASES[key] = librosa.filters.mel(sr=self.sample_rate, n_fft=self.n_fft, n_mels=self.n_mels,
                                              fmin=self.fmin, fmax=self.fmax).astype(np.float32)
        return _BASES[key]

    def log_mel(self, audio):
        """float audio (1-D, [-1, 1]) -> float32 log-mel (n_mels, 1 + len // hop)."""
        import librosa  # pylint: disable=import-outside-toplevel

        audio = np.asarray(audio, dtype=np.float32)
        spec = np.abs(librosa.stft(audio, n_fft=self.n_fft, hop_length=self.hop, win_length=self.win_length,
                                   window=self.window, center=True, pad_mode="reflect"))
        return np.log(np.maximum(self.basis() @ spec, self.log_floor)).astype(np.float32)


def list_differences(diff, owner):
    """`name theirs (owner: mine), ...` of (name, mine, theirs) differences, for one-line messages."""
    return ", ".join(f"{name} {theirs!r} ({owner}: {mine!r})" for name, mine, theirs in diff)


class FeatureMismatch(UserError):
    """The input's features were made with other settings than the model's."""


_BASES = {}
ZOO = MelSettings()  # the zoo's features: what a checkpoint without settings was trained on


def normalize_mel(mel):
    """What the network sees, in training and inference: (log_mel + 5) / 5."""
    return (mel + MEL_OFFSET) / MEL_SCALE
