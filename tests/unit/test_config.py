import pytest

from sparkdl.config import PredictConfig, parse_mapping
from sparkdl.errors import ConfigError


@pytest.mark.parametrize("size", [0, -1, 1.5, "8", True])
def test_batch_size_must_be_a_positive_int(size):
    with pytest.raises(ConfigError, match=f"batch_size must be a positive integer, got {size!r}"):
        PredictConfig(batch_size=size)


def test_batch_size_defaults_to_measured_per_worker():
    assert PredictConfig().batch_size is None and PredictConfig(batch_size=None).batch_size is None


def test_mappings_from_dicts_and_cli_strings_agree():
    from_text = parse_mapping("a=x, b=y", "inputs")
    assert from_text == parse_mapping({"b": "y", "a": "x"}, "inputs") == (("a", "x"), ("b", "y"))


@pytest.mark.parametrize("bad", ["a", "a=", "=x", {}, {"a": ""}, ["a"], {"a": "x", "b": "x"}])
def test_bad_mappings_name_the_option(bad):
    with pytest.raises(ConfigError, match="^inputs"):
        parse_mapping(bad, "inputs")


def test_config_is_frozen():
    config = PredictConfig(inputs={"a": "x"})
    with pytest.raises(AttributeError):
        config.batch_size = 2
