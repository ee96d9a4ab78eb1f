from __future__ import annotations

import pytest

from microgesture.errors import ConfigError
from microgesture.training.config import load_config, packaged_configs, save_config


@pytest.mark.parametrize("name", packaged_configs())
def test_every_packaged_config_loads_and_validates(name):
    cfg = load_config(config=name)
    assert cfg.task in ("pretrain", "supervised")
    assert cfg.model.name


def test_overrides_merge_on_top_of_file_and_extends():
    cfg = load_config(config="pretrain_stb_demo", overrides=["model.fusion=concat", "trainer.max_epochs=2",
                                                              "moco.balance=uncertainty"])
    assert cfg.model.fusion == "concat" and cfg.trainer.max_epochs == 2 and cfg.moco.balance == "uncertainty"
    assert cfg.model.spatial.name == "stgcn_quarter"  # inherited through `extends: pretrain_stb`
    assert cfg.data.path == "synthetic"  # set by the demo file itself


def test_misspelt_override_is_an_error_naming_the_key():
    with pytest.raises(ConfigError, match="max_epoch"):
        load_config(config="pretrain_stb_demo", overrides=["trainer.max_epoch=2"])


def test_malformed_override_is_an_error():
    with pytest.raises(ConfigError, match="key=value"):
        load_config(config="pretrain_stb_demo", overrides=["trainer.max_epochs"])


def test_unknown_key_in_a_yaml_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("extends: pretrain_stb_demo\noptim:\n  learning_rate: 0.1\n")
    with pytest.raises(ConfigError, match="learning_rate"):
        load_config(config=bad)


def test_value_checks():
    with pytest.raises(ConfigError, match="multiple of the global batch size 24"):
        load_config(config="pretrain_stb_demo", overrides=["data.batch_size=24"])
    with pytest.raises(ConfigError, match="optim.schedule"):
        load_config(config="pretrain_stb_demo", overrides=["optim.schedule=exponential"])
    with pytest.raises(ConfigError, match="not 'supervised'"):
        load_config("supervised", config="pretrain_stb_demo")
    with pytest.raises(ConfigError, match="neither a file nor a packaged config"):
        load_config(config="no_such_config")
    with pytest.raises(ConfigError, match="needs data.batch_size >= 16"):  # shuffle-BN: 2 clips per sub-batch
        load_config(config="pretrain_stb_nw_ucla_cpu", overrides=["moco.bn_splits=8", "data.batch_size=8",
                                                                   "moco.queue_size=64"])
    with pytest.raises(ConfigError, match="bn_splits must be >= 1"):
        load_config(config="pretrain_stb_demo", overrides=["moco.bn_splits=0"])


def test_extends_loop_is_detected(tmp_path):
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    with pytest.raises(ConfigError, match="loops back"):
        load_config(config=tmp_path / "a.yaml")


def test_saved_config_round_trips(tmp_path):
    cfg = load_config(config="train_supervised_demo", overrides=["seed=3"])
    path = save_config(cfg, tmp_path / "config.yaml")
    again = load_config(config=path)
    assert again == cfg
