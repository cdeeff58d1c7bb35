"""Configuration: config.yaml merged with `--key value` command-line overrides (model zoo style).

`config` is built on first import from sys.argv; scripts call `get_config(argv)` explicitly when
they need a fresh one (tests do). Unknown keys and values of the wrong type stop with one line.
"""
import argparse
import ast
import os
import sys

import yaml

_HERE = os.path.dirname(os.path.abspath(__file__))
# The zoo's keys that nothing in this port reads: kept so the zoo's config files load, refused when
# set to anything else (a value that would be silently ignored is a trap).
UNUSED_ZOO_KEYS = {"momentum": "the zoo's Adam never used it", "segment_length": "training windows are train_length mel frames"}
DEFAULT_CONFIG = os.path.join(_HERE, "..", "..", "config.yaml")


from src.errors import ConfigError  # noqa: E402  (re-exported: scripts import it from here)


class Config:
    """Attribute access over a flat dict of settings."""

    def __init__(self, cfg_dict):
        for k, v in cfg_dict.items():
            setattr(self, k, v)

    def __str__(self):
        return "\n".join(f"{k}: {v!r}" for k, v in sorted(self.__dict__.items()))

    def __repr__(self):
        return self.__str__()

    def as_dict(self):
        return dict(self.__dict__)


def _parse_bool(key, text):
    low = str(text).strip().lower()
    if low in ("true", "1", "yes", "y", "on"):
        return True
    if low in ("false", "0", "no", "n", "off", "flase"):  # "Flase": the seed's own typo
        return False
    raise ConfigError(f"--{key} expects True or False, got {text!r}")


def _coerce(key, default, text):
    """Convert a command-line string to the type of the key's default value."""
    if isinstance(default, bool):
        return _parse_bool(key, text)
    if isinstance(default, int):
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"--{key} expects an integer, got {text!r}") from None
    if isinstance(default, float):
        try:
            return float(text)
        except ValueError:
            raise ConfigError(f"--{key} expects a number, got {text!r}") from None
    if isinstance(default, (list, tuple)):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise ConfigError(f"--{key} expects a list, got {text!r}") from None
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"--{key} expects a list, got {text!r}")
        return list(value)
    return text


def _check_types(defaults, values, source):
    """Values read from another YAML must have the same types as the defaults."""
    for key, value in values.items():
        if key not in defaults:
            raise ConfigError(f"unknown key '{key}' in {source}")
        default = defaults[key]
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif isinstance(default, str):
            ok = isinstance(value, str)
        else:
            ok = True
        if not ok:
            raise ConfigError(f"key '{key}' in {source} expects {type(default).__name__}, got {value!r}")


def _read_yaml(path):
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not valid YAML ({str(e).splitlines()[0]})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of key: value")
    return data


def get_config(argv=None):
    """Read config.yaml (or --config_path), apply --key value overrides, return a Config."""
    argv = list(sys.argv[1:] if argv is None else argv)
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config_path", default=DEFAULT_CONFIG)
    known, rest = pre.parse_known_args(argv)

    defaults = _read_yaml(DEFAULT_CONFIG)
    values = dict(defaults)
    # Several files, comma-separated, are applied in order (e.g. a feature preset, then a recipe).
    for path in filter(None, known.config_path.split(",")):
        if os.path.abspath(path) == os.path.abspath(DEFAULT_CONFIG):
            continue
        other = _read_yaml(path)
        _check_types(defaults, other, path)
        values.update(other)

    parser = argparse.ArgumentParser(description="MelGAN (MindSpore)", add_help=True)
    parser.add_argument("--config_path", default=known.config_path,
                        help="YAML config(s) to read over config.yaml, comma-separated, later ones win")
    for key, default in values.items():
        parser.add_argument(f"--{key}", type=str, default=None, metavar="VALUE",
                            help=f"(default: {default!r})")

    def _error(message):
        # argparse would print usage and exit 2; one line naming the key is what users want.
        if "unrecognized arguments" in message:
            bad = message.split(":", 1)[1].split()
            key = next((b for b in bad if b.startswith("-")), bad[0])
            raise ConfigError(f"unknown key '{key.lstrip('-')}'")
        raise ConfigError(message)

    parser.error = _error
    args = parser.parse_args(rest)
    for key, default in values.items():
        text = getattr(args, key)
        if text is not None:
            values[key] = _coerce(key, default, text)
    for key, why in UNUSED_ZOO_KEYS.items():
        if key in values and values[key] != defaults.get(key):
            raise ConfigError(f"config: {key} is the zoo's key, kept for compatibility and unused ({why}); "
                              f"leave it at {defaults.get(key)!r}")
    values["config_path"] = known.config_path
    return Config(values)


_CONFIG = None


def __getattr__(name):
    # `from src.model_utils.config import config` parses sys.argv on first use only, so that
    # importing this module (e.g. under pytest) never reads someone else's arguments.
    global _CONFIG
    if name == "config":
        if _CONFIG is None:
            _CONFIG = get_config()
        return _CONFIG
    raise AttributeError(name)
