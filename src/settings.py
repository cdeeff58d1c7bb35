"""What a trained model expects of its input, travelling with the model: the feature settings and the
generator's upsampling (whose product is the hop). Stored as one JSON string under `melgan_settings`
in training and generator-only checkpoints, in exported ONNX files' metadata and beside a MINDIR
(`NAME.mindir.json`). A file without it (the zoo's public checkpoint) is taken as the zoo's.

Pure Python: the C++ host steps and the ONNX backends read it without MindSpore.
"""
import json
import os
from dataclasses import dataclass, field

from src.architecture import GENERATOR, GeneratorArch, generator_from_config
from src.errors import UserError
from src.features import ZOO, MelSettings

KEY = "melgan_settings"
FORMAT = 1


@dataclass(frozen=True)
class ModelSettings:
    features: MelSettings = ZOO
    upsample_rates: tuple = field(default=GENERATOR.upsample_rates)

    @classmethod
    def from_config(cls, cfg):
        """The config's features and upsample_rates, checked (one ConfigError line naming the key)."""
        return cls(MelSettings.from_config(cfg), generator_from_config(cfg).upsample_rates)

    def arch(self):
        """The generator architecture these settings describe."""
        return GeneratorArch.with_upsampling(self.upsample_rates)

    def describe(self):
        f = self.features
        return (f"{f.sample_rate} Hz, n_fft {f.n_fft}, win {f.win_length} ({f.window}), hop {f.hop} "
                f"(upsampling {' x '.join(map(str, self.upsample_rates))}), {f.n_mels} mels {f.fmin:g}-{f.fmax:g} Hz, "
                f"ln(max(mel, {f.log_floor:g}))")

    def differences(self, other):
        """[(setting, mine, other's)] for every feature setting, and the upsampling, that differs."""
        diff = self.features.differences(other.features)
        if self.upsample_rates != other.upsample_rates:
            diff.append(("upsample_rates", list(self.upsample_rates), list(other.upsample_rates)))
        return diff

    def to_json(self):
        return json.dumps({"format": FORMAT, "features": self.features.as_dict(),
                           "upsample_rates": list(self.upsample_rates)}, sort_keys=True)

    @classmethod
    def from_json(cls, text, source):
        try:
            data = json.loads(text)
            features = MelSettings(**data["features"])
            rates = tuple(int(r) for r in data["upsample_rates"])
        except (ValueError, KeyError, TypeError) as e:
            raise UserError(f"{source}: unreadable {KEY} ({type(e).__name__}: {e})") from None
        return cls(features, rates)


ZOO_SETTINGS = ModelSettings()


def settings_of(generator):
    """The settings a loaded generator was built for (src.model.load_generator sets them); the zoo's
    for a Generator made in code with the zoo's architecture."""
    settings = getattr(generator, "settings", None)
    if settings is not None:
        return settings
    arch = getattr(generator, "arch", GENERATOR)
    return ZOO_SETTINGS if arch == GENERATOR else ModelSettings(upsample_rates=arch.upsample_rates)


def from_checkpoint_params(params, source):
    """The settings stored in a checkpoint's parameter dict, or the zoo's when it has none."""
    value = params.get(KEY)
    return ZOO_SETTINGS if value is None else ModelSettings.from_json(str(value), source)


def check_declared(cfg, model_settings, source):
    """The config's feature keys, where they say something else than the zoo's defaults, declare the
    features of the input (e.g. an acoustic model's, or the training config passed again): they must be
    the model's. One FeatureMismatch line naming each differing setting otherwise."""
    declared = MelSettings.from_config(cfg)
    if declared != ZOO:
        model_settings.features.check_input(declared, f"{source} (the config's feature keys)")


def sidecar_path(model_path):
    """Where the settings of an exported MINDIR (which has no free-form metadata) are written."""
    return str(model_path) + ".json"


def read_sidecar(model_path):
    """Settings beside an exported model, or the zoo's when there is no sidecar."""
    path = sidecar_path(model_path)
    if not os.path.isfile(path):
        return ZOO_SETTINGS
    with open(path, encoding="utf-8") as f:
        return ModelSettings.from_json(f.read(), path)
