"""config.yaml + `--key value` overrides + `--config_path`; bad keys and types stop with one line."""
import os

import pytest
import yaml

from src.model_utils.config import DEFAULT_CONFIG, ConfigError, get_config

SEED_KEYS = ["pre_trained", "checkpoint_path", "lr_g", "lr_d", "batch_size", "epoch_size", "momentum",
             "leaky_alpha", "train_length", "beta1", "beta2", "weight_decay", "hop_size", "mel_num",
             "filter_length", "win_length", "segment_length", "sample", "data_path", "save_steps",
             "save_checkpoint_name", "save_checkpoint_path", "eval_data_path", "eval_model_path",
             "output_path", "eval_length", "enable_modelarts", "device_target"]


def test_defaults_hold_every_zoo_key():
    cfg = get_config([])
    for key in SEED_KEYS:
        assert hasattr(cfg, key), key
    assert cfg.device_target == "CPU"
    assert cfg.lr_g == 0.0001 and cfg.batch_size == 4 and cfg.eval_length == 240
    assert cfg.pre_trained is False


def test_overrides_are_typed():
    cfg = get_config(["--batch_size", "16", "--lr_g", "2e-4", "--pre_trained", "True",
                      "--data_path", "/x/y", "--enable_modelarts=false"])
    assert cfg.batch_size == 16 and isinstance(cfg.batch_size, int)
    assert cfg.lr_g == 2e-4
    assert cfg.pre_trained is True
    assert cfg.data_path == "/x/y"
    assert cfg.enable_modelarts is False


def test_config_path_reads_other_yaml(tmp_path):
    other = tmp_path / "mine.yaml"
    other.write_text(yaml.safe_dump({"batch_size": 2, "data_path": "/data/mine"}))
    cfg = get_config(["--config_path", str(other), "--train_length", "32"])
    assert cfg.batch_size == 2 and cfg.data_path == "/data/mine" and cfg.train_length == 32
    assert cfg.lr_d == 0.0001  # untouched keys keep the defaults


def test_unknown_key_stops_with_one_line():
    with pytest.raises(ConfigError) as err:
        get_config(["--bach_size", "3"])
    msg = str(err.value)
    assert "bach_size" in msg and "\n" not in msg


@pytest.mark.parametrize("argv, key", [(["--batch_size", "four"], "batch_size"),
                                       (["--lr_g", "fast"], "lr_g"),
                                       (["--pre_trained", "maybe"], "pre_trained")])
def test_wrong_type_stops_naming_the_key(argv, key):
    with pytest.raises(ConfigError) as err:
        get_config(argv)
    assert key in str(err.value) and "\n" not in str(err.value)


def test_wrong_type_or_unknown_key_in_yaml(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("batch_size: lots\n")
    with pytest.raises(ConfigError, match="batch_size"):
        get_config(["--config_path", str(bad)])
    bad.write_text("not_a_key: 1\n")
    with pytest.raises(ConfigError, match="not_a_key"):
        get_config(["--config_path", str(bad)])
    with pytest.raises(ConfigError, match="not found"):
        get_config(["--config_path", str(tmp_path / "missing.yaml")])


def test_default_file_is_the_repo_config():
    with open(DEFAULT_CONFIG) as f:
        assert "eval_length" in yaml.safe_load(f)


def test_modelarts_adapter_does_not_import_moxing_when_disabled():
    import sys
    import src.model_utils.moxing_adapter  # noqa: F401  (import must not need moxing)
    assert "moxing" not in sys.modules


def test_fast_recipe_config_loads_over_the_defaults():
    fast = os.path.join(os.path.dirname(DEFAULT_CONFIG), "config_fast.yaml")
    cfg = get_config(["--config_path", fast])
    assert cfg.stft_loss_weight > 0 and cfg.generator_warmup_steps > 0 and cfg.train_length == 32 and cfg.tensorboard
    zoo = get_config([])  # and the defaults are the zoo's recipe: every option off
    assert (zoo.stft_loss_weight, zoo.mel_loss_weight, zoo.adv_weight, zoo.feat_weight,
            zoo.generator_warmup_steps, zoo.eval_every, zoo.max_train_cpu_seconds, zoo.tensorboard) == \
        (0, 0, 1, 10, 0, 0, 0, False)


def test_unused_zoo_keys_load_but_refuse_another_value():
    assert get_config([]).momentum == 0.9  # the zoo's files still load
    for key, value in (("momentum", "0.5"), ("segment_length", "8000")):
        with pytest.raises(ConfigError, match=f"{key} is the zoo's key, kept for compatibility and unused"):
            get_config([f"--{key}", value])


def test_several_config_files_apply_in_order(tmp_path):
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text("batch_size: 2\nfmax: 7600.0\n")
    second.write_text("batch_size: 3\n")
    cfg = get_config(["--config_path", f"{first},{second}"])
    assert (cfg.batch_size, cfg.fmax) == (3, 7600.0)
