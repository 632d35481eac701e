"""Project settings: one dataclass, validated on the way in from JSON, forms and the CLI."""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from typing import Any

from dinoad.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_MODEL_ID = "facebook/dinov3-vits16-pretrain-lvd1689m"
MIN_IMAGE_SIZE = 128
MAX_IMAGE_SIZE = 1024

DTYPES = ("auto", "float32", "bfloat16", "float16")
METRICS = ("cosine", "euclidean")
SCORE_AGGREGATIONS = ("max", "top1p_mean")
CORESET_METHODS = ("none", "random", "importance", "greedy")
PROJECTIONS = ("gaussian", "sparse")
ROTATION_AUGMENTATIONS = ("none", "90", "45")
THRESHOLD_METHODS = ("hybrid", "f1", "good_percentile", "manual")
BACKGROUND_METHODS = ("background_bank", "score_interval", "none")


@dataclass
class ProjectConfig:
    """Every setting of a project. Saved as ``config.json``; unknown keys are ignored."""

    model_id: str = DEFAULT_MODEL_ID
    image_size: int = 448
    dtype: str = "auto"
    shots: int = 10
    batch_size: int = 4
    augment_rotations: str = "none"
    feature_dim: int = 0
    projection: str = "sparse"
    projection_seed: int = 0
    coreset_method: str = "none"
    coreset_ratio: float = 1.0
    coreset_seed: int = 0
    knn_k: int = 1
    metric: str = "cosine"
    score_aggregation: str = "max"
    sigma: float = 4.0
    threshold_method: str = "hybrid"
    threshold: float | None = None
    defect_quantile: float = 0.0  # hybrid: 0 = minimum defect score; e.g. 0.05 ignores one outlier in 20
    good_percentile: float = 99.0  # percentile of good scores used by hybrid and good_percentile
    good_margin: float = 1.1  # good_percentile: threshold = percentile x margin
    manual_threshold: float | None = None  # the value the user set for threshold_method "manual"
    background_method: str = "background_bank"  # how a frame with no part in view is recognised
    background_k: float = 6.0  # score_interval: mean +- max(k * SD, margin)
    background_margin: float = 0.02
    min_object_fraction: float = 0.02  # background_bank: fewer unexplained patches than this = no part
    raw_ad_score_interval: list[float] | None = None
    validation_metrics: dict[str, Any] | None = None  # metrics at the threshold, written by training

    def __post_init__(self) -> None:
        validate(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProjectConfig:
        """Build a config from JSON data: defaults fill gaps, unknown keys are logged and dropped."""
        if not isinstance(data, dict):
            raise ConfigError(f"config must be a JSON object, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            log.warning("ignoring unknown config keys: %s", ", ".join(unknown))
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> ProjectConfig:
        """A validated copy with some settings changed."""
        return dataclasses.replace(self, **changes)


# Settings whose change makes the saved memory bank invalid.
BANK_SETTINGS = (
    "model_id",
    "image_size",
    "augment_rotations",
    "feature_dim",
    "projection",
    "projection_seed",
    "coreset_method",
    "coreset_ratio",
    "coreset_seed",
    "metric",
)


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")


def _integer(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be a whole number between {low} and {high}; got {value!r}")
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}; got {value}")


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number; got {value!r}")
    return float(value)


def validate(config: ProjectConfig) -> None:
    """Raise ConfigError naming the first field with a wrong type or value."""
    if not isinstance(config.model_id, str) or not config.model_id.strip():
        raise ConfigError("model_id must be a HuggingFace model id or a local model folder")
    _integer("image_size", config.image_size, MIN_IMAGE_SIZE, MAX_IMAGE_SIZE)
    _choice("dtype", config.dtype, DTYPES)
    _integer("shots", config.shots, 1, 10_000)
    _integer("batch_size", config.batch_size, 1, 256)
    _choice("augment_rotations", config.augment_rotations, ROTATION_AUGMENTATIONS)
    _integer("feature_dim", config.feature_dim, 0, 8192)
    _choice("projection", config.projection, PROJECTIONS)
    _integer("projection_seed", config.projection_seed, 0, 2**31 - 1)
    _choice("coreset_method", config.coreset_method, CORESET_METHODS)
    ratio = _number("coreset_ratio", config.coreset_ratio)
    if not 0 < ratio <= 1:
        raise ConfigError(f"coreset_ratio must be in (0, 1]; got {ratio}")
    _integer("coreset_seed", config.coreset_seed, 0, 2**31 - 1)
    _integer("knn_k", config.knn_k, 1, 1000)
    _choice("metric", config.metric, METRICS)
    _choice("score_aggregation", config.score_aggregation, SCORE_AGGREGATIONS)
    if _number("sigma", config.sigma) < 0:
        raise ConfigError(f"sigma must be 0 (no smoothing) or positive; got {config.sigma}")
    _choice("threshold_method", config.threshold_method, THRESHOLD_METHODS)
    if config.threshold is not None:
        _number("threshold", config.threshold)
    if not 0 <= _number("defect_quantile", config.defect_quantile) < 0.5:
        raise ConfigError(f"defect_quantile must be in [0, 0.5) (0 = minimum); got {config.defect_quantile}")
    if not 50 <= _number("good_percentile", config.good_percentile) <= 100:
        raise ConfigError(f"good_percentile must be between 50 and 100; got {config.good_percentile}")
    if _number("good_margin", config.good_margin) <= 0:
        raise ConfigError(f"good_margin must be positive (1.1 = 10 % above the percentile); got {config.good_margin}")
    if config.manual_threshold is not None:
        _number("manual_threshold", config.manual_threshold)
    _choice("background_method", config.background_method, BACKGROUND_METHODS)
    if _number("background_k", config.background_k) <= 0:
        raise ConfigError(f"background_k must be positive; got {config.background_k}")
    if _number("background_margin", config.background_margin) < 0:
        raise ConfigError(f"background_margin must be 0 or positive; got {config.background_margin}")
    if not 0 < _number("min_object_fraction", config.min_object_fraction) < 1:
        raise ConfigError(f"min_object_fraction must be between 0 and 1; got {config.min_object_fraction}")
    if config.validation_metrics is not None and not isinstance(config.validation_metrics, dict):
        raise ConfigError("validation_metrics must be a JSON object or null; retrain to rewrite it")
    interval = config.raw_ad_score_interval
    if interval is not None:
        if not isinstance(interval, (list, tuple)) or len(interval) != 2:
            raise ConfigError(f"raw_ad_score_interval must be [low, high]; got {interval!r}")
        low, high = (_number("raw_ad_score_interval", v) for v in interval)
        if low > high:
            raise ConfigError(f"raw_ad_score_interval must have low <= high; got {interval!r}")


def valid_image_sizes(patch_size: int) -> list[int]:
    """All square training resolutions allowed for a backbone with this patch size."""
    first = math.ceil(MIN_IMAGE_SIZE / patch_size) * patch_size
    return list(range(first, MAX_IMAGE_SIZE + 1, patch_size))


def check_image_size(image_size: int, patch_size: int) -> None:
    """Refuse a resolution that is not a multiple of the patch size, naming the nearest valid ones."""
    sizes = valid_image_sizes(patch_size)
    if image_size in sizes:
        return
    nearest = sorted(sizes, key=lambda s: (abs(s - image_size), s))[:2]
    raise ConfigError(
        f"image_size {image_size} does not fit this model: it must be a multiple of the patch "
        f"size {patch_size} between {MIN_IMAGE_SIZE} and {MAX_IMAGE_SIZE}. "
        f"Nearest valid sizes: {' or '.join(str(s) for s in sorted(nearest))}"
    )
