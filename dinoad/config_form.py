"""How each project setting is presented in a form: label, kind of input, choices, range, help.

The Projects page renders these specs; settings added to ``ProjectConfig`` later without a spec
still appear (as "other settings", by the type of their default), so no setting is ever hidden.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dinoad.config import (
    BACKGROUND_METHODS,
    CORESET_METHODS,
    DTYPES,
    MAX_IMAGE_SIZE,
    METRICS,
    MIN_IMAGE_SIZE,
    ROTATION_AUGMENTATIONS,
    SCORE_AGGREGATIONS,
    THRESHOLD_METHODS,
    ProjectConfig,
)

log = logging.getLogger(__name__)

# Outputs of training and calibration kept in config.json: shown, never typed in a form.
CALIBRATION_OUTPUTS = ("threshold", "raw_ad_score_interval", "manual_threshold", "validation_metrics")
DEFAULT_PATCH_SIZE = 16  # DINOv3 ViTs
DINOV2_PATCH_SIZE = 14


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    kind: str  # "text", "choice", "int", "float"
    help: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    advanced: bool = False


FIELD_SPECS: tuple[FieldSpec, ...] = (
    FieldSpec("model_id", "Model", "text",
              "HuggingFace id of a DINOv3 ViT (gated: needs HF_TOKEN) or DINOv2 model, or a local model folder."),
    FieldSpec("image_size", "Image size (pixels)", "int",
              "Square resolution images are resized to: a multiple of the model's patch size (16 for DINOv3, "
              "14 for DINOv2) between 128 and 1024. Larger finds smaller defects but is slower.",
              minimum=MIN_IMAGE_SIZE, maximum=MAX_IMAGE_SIZE, step=DEFAULT_PATCH_SIZE),
    FieldSpec("shots", "Shots (good images in the memory bank)", "int",
              "How many good images build the memory bank; further good images are used to test it.",
              minimum=1, maximum=10_000, step=1),
    FieldSpec("knn_k", "k nearest neighbours", "int",
              "A patch's anomaly score is its mean distance to this many nearest good patches; 1 is usual.",
              minimum=1, maximum=1000, step=1),
    FieldSpec("metric", "Distance", "choice", "Cosine suits DINO features; euclidean is the alternative.",
              choices=METRICS),
    FieldSpec("score_aggregation", "Image score", "choice",
              "max: the worst patch decides (small defects); top1p_mean: mean of the worst 1 % (less noisy).",
              choices=SCORE_AGGREGATIONS),
    FieldSpec("coreset_method", "Coreset", "choice",
              "Keep only part of the bank to speed up scoring: none, random, importance, or greedy (k-center).",
              choices=CORESET_METHODS),
    FieldSpec("coreset_ratio", "Coreset ratio", "float", "Fraction of bank patches kept by the coreset (0-1].",
              minimum=0.001, maximum=1.0, step=0.05),
    FieldSpec("feature_dim", "Feature dimensions (0 = all)", "int",
              "Random projection of patch features to this many dimensions to save memory and time; 0 keeps all.",
              minimum=0, maximum=8192, step=32),
    FieldSpec("augment_rotations", "Rotation augmentation", "choice",
              "Add rotated copies of the good images to the bank when parts arrive in any orientation.",
              choices=ROTATION_AUGMENTATIONS),
    FieldSpec("dtype", "Precision", "choice",
              "auto: float16 on a GPU, bfloat16 on a CPU that supports it, else float32.", choices=DTYPES),
    FieldSpec("threshold_method", "Threshold method", "choice",
              "How training picks the OK/NOK threshold: hybrid (default), f1, good_percentile (no defects "
              "needed), or manual (set on the Validation page).", choices=THRESHOLD_METHODS),
    FieldSpec("background_method", "No-part detection", "choice",
              "How an empty scene is recognised so it is not judged: background_bank (patches explained by the "
              "background images), score_interval (score inside the background scores' range), or none.",
              choices=BACKGROUND_METHODS),
    FieldSpec("defect_quantile", "Defect quantile (hybrid)", "float",
              "hybrid threshold: 0 uses the lowest defect score; e.g. 0.05 ignores one outlier defect in 20.",
              minimum=0.0, maximum=0.49, step=0.01, advanced=True),
    FieldSpec("good_percentile", "Good percentile", "float",
              "Percentile of the good scores used by the hybrid and good_percentile thresholds.",
              minimum=50.0, maximum=100.0, step=0.5, advanced=True),
    FieldSpec("good_margin", "Good margin", "float",
              "good_percentile threshold = percentile x margin (1.1 = 10 % above).",
              minimum=0.01, maximum=10.0, step=0.05, advanced=True),
    FieldSpec("background_k", "Background k (score_interval)", "float",
              "score_interval: background mean +- max(k x SD, margin).", minimum=0.01, maximum=100.0, step=0.5,
              advanced=True),
    FieldSpec("background_margin", "Background margin (score_interval)", "float",
              "score_interval: the smallest half-width of the interval, in score units.",
              minimum=0.0, maximum=10.0, step=0.01, advanced=True),
    FieldSpec("min_object_fraction", "Minimum object fraction (background_bank)", "float",
              "background_bank: a frame with fewer patches unexplained by the background than this share is "
              "'no part'.", minimum=0.001, maximum=0.999, step=0.01, advanced=True),
    FieldSpec("sigma", "Heatmap smoothing (pixels)", "float", "Gaussian blur of the anomaly map; 0 turns it off.",
              minimum=0.0, maximum=64.0, step=0.5, advanced=True),
    FieldSpec("batch_size", "Batch size", "int", "Images per forward pass while training.",
              minimum=1, maximum=256, step=1, advanced=True),
    FieldSpec("projection", "Projection kind", "choice", "Random projection used when feature dimensions > 0.",
              choices=("gaussian", "sparse"), advanced=True),
    FieldSpec("projection_seed", "Projection seed", "int", "Seed of the random projection.",
              minimum=0, maximum=2**31 - 1, step=1, advanced=True),
    FieldSpec("coreset_seed", "Coreset seed", "int", "Seed of the random and importance coresets.",
              minimum=0, maximum=2**31 - 1, step=1, advanced=True),
)


def field_specs() -> list[FieldSpec]:
    """A spec for every editable setting of ProjectConfig, in display order."""
    known = {spec.name: spec for spec in FIELD_SPECS}
    specs = [spec for spec in FIELD_SPECS if spec.name in _editable_fields()]
    for name, default in _editable_fields().items():
        if name in known:
            continue
        kind = _kind_of(default)
        if kind is None:
            continue
        specs.append(FieldSpec(name, name.replace("_", " ").capitalize(), kind,
                               f"Setting {name} (see the project documentation).", advanced=True))
    return specs


def _editable_fields() -> dict[str, Any]:
    defaults = ProjectConfig().to_dict()
    return {f.name: defaults[f.name] for f in dataclasses.fields(ProjectConfig) if f.name not in CALIBRATION_OUTPUTS}


def _kind_of(value: Any) -> str | None:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "text"
    return None  # lists and None: calibration outputs or structured values, not form fields


def patch_size_of(model_id: str) -> int:
    """The model's patch size from its saved config (a local folder or the local HF cache, never the
    network); guessed from the name when the config is not on this machine."""
    try:
        from transformers import AutoConfig

        reference = str(Path(model_id).expanduser()) if Path(model_id).expanduser().is_dir() else model_id
        config = AutoConfig.from_pretrained(reference, local_files_only=True)
        patch = config.patch_size
        return int(patch[0] if isinstance(patch, (list, tuple)) else patch)
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        log.debug("patch size of %s not found locally (%s); guessing from the name", model_id, exc)
    return DINOV2_PATCH_SIZE if "dinov2" in model_id.lower() else DEFAULT_PATCH_SIZE
