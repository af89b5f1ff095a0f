import pytest

from nasframe.config import Schema, config_hash, parse_sets, resolve
from nasframe.interfaces.errors import ConfigError
from nasframe.registry import get_registry


def _space():
    return get_registry().space("darts")


def test_presets_layer_and_set_wins():
    config = resolve(_space(), get_registry().strategy("random"), "tiny", {"space.channels": 6})
    assert config["space"]["channels"] == 6
    assert config["preset"] == "tiny"
    assert config["strategy"]["name"] == "random"


def test_unknown_key_is_an_error_with_a_suggestion():
    with pytest.raises(ConfigError, match="space.channels"):
        resolve(_space(), None, "tiny", {"space.chanels": 6})


def test_set_values_parse_as_json_and_coerce():
    sets = parse_sets(["train.lr=0.1", "data.limit=100", "space.name=darts"])
    assert sets == {"train.lr": 0.1, "data.limit": 100, "space.name": "darts"}
    config = resolve(_space(), None, "tiny", {"train.lr": 1})
    assert isinstance(config["train"]["lr"], float)


def test_wrong_type_is_refused():
    config = resolve(_space(), None, "tiny")
    with pytest.raises(ConfigError, match="'train.lr' = 'fast' is not allowed: it takes a number > 0"):
        Schema.of(_space()).apply(config, {"train.lr": "fast"}, "test")


def test_malformed_set_is_refused():
    with pytest.raises(ConfigError, match="key=value"):
        parse_sets(["nonsense"])


def test_unknown_preset_is_refused():
    with pytest.raises(ConfigError, match="preset"):
        resolve(_space(), None, "huge")


def test_hash_ignores_portable_keys_only():
    a = resolve(_space(), None, "tiny", {"data.dir": "/a"})
    b = resolve(_space(), None, "tiny", {"data.dir": "/b"})
    c = resolve(_space(), None, "tiny", {"seed": 1})
    ignore = ("data.dir",)
    assert config_hash(a, ignore) == config_hash(b, ignore)
    assert config_hash(a, ignore) != config_hash(c, ignore)
