import logging

import pytest

from dinoad.config import ProjectConfig, check_image_size, valid_image_sizes
from dinoad.errors import ConfigError


def test_defaults_are_valid_and_round_trip():
    config = ProjectConfig()
    assert config.model_id == "facebook/dinov3-vits16-pretrain-lvd1689m"
    assert ProjectConfig.from_dict(config.to_dict()) == config


def test_from_dict_fills_defaults_and_drops_unknown_keys_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING):
        config = ProjectConfig.from_dict({"image_size": 224, "memory_bank_resolutions": [224, 448]})
    assert config.image_size == 224
    assert config.knn_k == ProjectConfig().knn_k
    assert "memory_bank_resolutions" in caplog.text


@pytest.mark.parametrize(
    ("field", "value", "expected_words"),
    [
        ("image_size", 100, ["image_size", "128", "1024"]),
        ("image_size", "448", ["image_size", "whole number"]),
        ("image_size", True, ["image_size"]),
        ("knn_k", 0, ["knn_k"]),
        ("metric", "manhattan", ["metric", "cosine", "euclidean"]),
        ("coreset_method", "kmeans", ["coreset_method", "greedy"]),
        ("coreset_ratio", 0.0, ["coreset_ratio", "(0, 1]"]),
        ("coreset_ratio", 1.5, ["coreset_ratio"]),
        ("sigma", -1, ["sigma"]),
        ("sigma", float("nan"), ["sigma", "finite"]),
        ("dtype", "int8", ["dtype", "bfloat16"]),
        ("score_aggregation", "mean", ["score_aggregation", "top1p_mean"]),
        ("threshold", "high", ["threshold"]),
        ("raw_ad_score_interval", [0.3, 0.1], ["raw_ad_score_interval", "low <= high"]),
        ("model_id", "  ", ["model_id"]),
    ],
)
def test_invalid_values_name_the_field_and_the_allowed_values(field, value, expected_words):
    with pytest.raises(ConfigError) as error:
        ProjectConfig.from_dict({field: value})
    for word in expected_words:
        assert word in str(error.value)


def test_from_dict_refuses_a_non_object():
    with pytest.raises(ConfigError, match="JSON object"):
        ProjectConfig.from_dict([1, 2])


def test_replace_validates():
    with pytest.raises(ConfigError, match="knn_k"):
        ProjectConfig().replace(knn_k=-3)


def test_valid_image_sizes_are_multiples_of_the_patch_in_range():
    assert valid_image_sizes(16)[:3] == [128, 144, 160]
    assert valid_image_sizes(16)[-1] == 1024
    assert valid_image_sizes(14)[0] == 140
    assert all(size % 14 == 0 for size in valid_image_sizes(14))


def test_check_image_size_names_the_nearest_valid_sizes():
    check_image_size(448, 16)
    check_image_size(448, 14)
    with pytest.raises(ConfigError) as error:
        check_image_size(500, 16)
    assert "496 or 512" in str(error.value)
    with pytest.raises(ConfigError) as error:
        check_image_size(512, 14)
    assert "504 or 518" in str(error.value)
