"""No part in view: recognising an empty scene so it is neither judged OK nor NOK.

Two methods (``background_method`` in the config), both fitted on the project's background images
(the empty scene: at least 3, 5 recommended):

- ``score_interval``: the anomaly scores of the background images give the interval
  mean +- max(``background_k`` x SD, ``background_margin``) (SD with ddof=1); a frame whose score
  falls inside is "no part". Saved as ``raw_ad_score_interval``.
- ``background_bank`` (default): the background images' patch features form a second, small
  bank. A patch is "explained by the background" when its distance to that bank is at most
  ``PATCH_DISTANCE_MARGIN`` x the largest leave-one-out distance among the background images
  themselves. A frame shows a part only when at least ``min_object_fraction`` of its patches are
  not explained by the background; otherwise it is "no part".

Why ``background_bank`` is the default (measured on the synthetic demo scenes of ``dinoad.demo``
with the tiny test backbone at 128 px, 5 background / 5 train / 6 test good / 8 defect images):

- Both methods passed the validation on every test good and defect image. ``score_interval``
  gave about [-0.015, 0.025] with background scores near 0.005 and test scores from 0.076 up;
  ``background_bank`` saw 45-55 % object patches in every test image and 0 % in ten unseen
  empty scenes.
- But the score of an empty scene is low for the same reason a perfect part's score is low:
  both look like the training images. A frame identical to a training image scored 2e-7, inside
  the interval, so ``score_interval`` called a flawless part "no part"; ``background_bank`` saw
  50 % object patches. The closer the good parts are to the bank (the better the model), the
  more good parts the interval swallows; the background bank does not depend on the part score.
- Both treat a strongly changed empty scene (20 % darker or brighter) as a part: it is then
  scored and shown, never silently skipped.

Whichever method is chosen, ``no_part_offenders`` checks it on every test good and defect image:
any of them judged "no part" disables the method for this training (with a warning in the
report), because a defect must never be skipped as background.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from dinoad.config import ProjectConfig
from dinoad.knn import KnnIndex
from dinoad.storage import write_bytes_atomic

log = logging.getLogger(__name__)

MIN_BACKGROUND_IMAGES = 3
RECOMMENDED_BACKGROUND_IMAGES = 5
BACKGROUND_BANK_FILE = "background_bank.safetensors"
METADATA_KEY = "dinoad_background"
# A patch is background when it is no farther from the background bank than this many times the
# largest distance seen between the background images themselves (camera noise, light flicker).
PATCH_DISTANCE_MARGIN = 1.5

# What the background fit needs from one background image: (anomaly score, (P, D) patch queries
# in the main bank's feature space).
Measure = Callable[[Path], tuple[float, torch.Tensor]]


def score_interval(scores: Sequence[float], k: float, margin: float) -> tuple[float, float]:
    """mean +- max(k x SD, margin) of the background scores (SD with ddof=1, 0 for one score)."""
    values = np.asarray(scores, dtype=np.float64)
    if values.size == 0:
        raise ValueError("score_interval needs at least one background score")
    spread = float(values.std(ddof=1)) if values.size > 1 else 0.0
    half_width = max(k * spread, margin)
    mean = float(values.mean())
    return mean - half_width, mean + half_width


def leave_one_out_distances(per_image: Sequence[torch.Tensor], metric: str) -> np.ndarray:
    """Each background image's patch distances to the patches of all the other background images."""
    if len(per_image) < 2:
        raise ValueError("leave-one-out distances need at least two background images")
    distances = []
    for left_out, queries in enumerate(per_image):
        others = torch.cat([f for index, f in enumerate(per_image) if index != left_out])
        distances.append(KnnIndex(others, metric).distances(queries, 1).cpu().numpy())
    return np.concatenate(distances)


@dataclass(frozen=True)
class BackgroundBank:
    """Patch features of the empty scene, in the main bank's feature space (same projection)."""

    features: torch.Tensor  # (N, D) float32
    patch_threshold: float  # distance above which a patch is not explained by the background
    metric: str
    bank_version: str  # the main memory bank these features match
    num_images: int

    def metadata(self) -> dict[str, Any]:
        return {"patch_threshold": self.patch_threshold, "metric": self.metric,
                "bank_version": self.bank_version, "num_images": self.num_images}


def build_background_bank(per_image: Sequence[torch.Tensor], metric: str, bank_version: str) -> BackgroundBank:
    """Stack the background patches and set the patch threshold from their leave-one-out distances."""
    loo = leave_one_out_distances(per_image, metric)
    threshold = float(loo.max()) * PATCH_DISTANCE_MARGIN
    features = torch.cat([f.float().cpu() for f in per_image]).contiguous()
    return BackgroundBank(features, threshold, metric, bank_version, len(per_image))


class BackgroundDetector:
    """A background bank ready to judge frames: ``object_fraction(queries)``."""

    def __init__(self, bank: BackgroundBank, dtype: torch.dtype = torch.float32,
                 device: torch.device | str = "cpu") -> None:
        self.bank = bank
        self.index = KnnIndex(bank.features, bank.metric, dtype, device)

    def object_fraction(self, queries: torch.Tensor) -> float:
        """Share of a frame's (P, D) patch queries that the background does not explain."""
        distances = self.index.distances(queries.reshape(-1, queries.shape[-1]), 1)
        return float((distances > self.bank.patch_threshold).float().mean())


def save_background_bank(bank: BackgroundBank, results_dir: Path) -> Path:
    path = Path(results_dir) / BACKGROUND_BANK_FILE
    data = save_safetensors({"features": bank.features.float().contiguous()},
                            metadata={METADATA_KEY: json.dumps(bank.metadata(), sort_keys=True)})
    write_bytes_atomic(path, data)
    return path


def remove_background_bank(results_dir: Path) -> None:
    (Path(results_dir) / BACKGROUND_BANK_FILE).unlink(missing_ok=True)


def load_background_bank(results_dir: Path, bank_version: str) -> BackgroundBank | None:
    """The saved background bank, or None (with a log line) when missing, damaged or made for another bank."""
    path = Path(results_dir) / BACKGROUND_BANK_FILE
    if not path.is_file():
        log.info("no background bank in %s: no-part detection is off until the project is retrained", path.parent)
        return None
    data = path.read_bytes()
    try:
        features = load_safetensors(data)["features"]
        header_length = int.from_bytes(data[:8], "little")
        meta = json.loads(json.loads(data[8:8 + header_length])["__metadata__"][METADATA_KEY])
        bank = BackgroundBank(features, float(meta["patch_threshold"]), str(meta["metric"]),
                              str(meta["bank_version"]), int(meta["num_images"]))
    except (SafetensorError, KeyError, ValueError, TypeError) as exc:
        log.warning("background bank %s is damaged (%s): no-part detection is off; retrain the project", path, exc)
        return None
    if bank.bank_version != bank_version:
        log.warning("background bank %s belongs to another memory bank: no-part detection is off; retrain", path)
        return None
    return bank


@dataclass
class BackgroundFit:
    """What the background images showed: their scores, the score interval and the background bank."""

    names: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    mean: float | None = None
    std: float | None = None
    interval: tuple[float, float] | None = None
    bank: BackgroundBank | None = None
    warnings: list[str] = field(default_factory=list)


def fit_background(paths: Sequence[Path], measure: Measure, config: ProjectConfig, bank_version: str) -> BackgroundFit:
    """Score every background image and build both no-part models (each is cheap); empty when
    there are fewer than MIN_BACKGROUND_IMAGES, with a warning that says what to capture."""
    fit = BackgroundFit()
    if config.background_method == "none":
        return fit
    if len(paths) < MIN_BACKGROUND_IMAGES:
        fit.warnings.append(
            f"no-part detection is off: it needs at least {MIN_BACKGROUND_IMAGES} background images "
            f"(empty scene, {RECOMMENDED_BACKGROUND_IMAGES} recommended); the project has {len(paths)}. "
            "Capture the empty inspection area into background and retrain."
        )
        return fit
    if len(paths) < RECOMMENDED_BACKGROUND_IMAGES:
        fit.warnings.append(
            f"only {len(paths)} background images: {RECOMMENDED_BACKGROUND_IMAGES} or more make no-part detection "
            "more reliable (vary the light a little between them)."
        )
    features = []
    for path in paths:
        score, queries = measure(path)
        fit.names.append(path.name)
        fit.scores.append(float(score))
        features.append(queries.reshape(-1, queries.shape[-1]))
    values = np.asarray(fit.scores, dtype=np.float64)
    fit.mean, fit.std = float(values.mean()), float(values.std(ddof=1))
    fit.interval = score_interval(fit.scores, config.background_k, config.background_margin)
    fit.bank = build_background_bank(features, config.metric, bank_version)
    return fit


def in_score_interval(score: float, interval: tuple[float, float] | None) -> bool:
    return interval is not None and interval[0] <= score <= interval[1]


def no_part_offenders(
    method: str,
    images: Sequence[tuple[str, str, float, float | None]],
    interval: tuple[float, float] | None,
    min_object_fraction: float,
) -> list[dict[str, Any]]:
    """Test images (class, name, score, object fraction) that ``method`` would call "no part".

    Every one of them is an error: a part is in view in each test good and defect image.
    """
    offenders = []
    for label, name, score, fraction in images:
        if method == "score_interval" and in_score_interval(score, interval):
            offenders.append({"class": label, "name": name, "score": score})
        if method == "background_bank" and fraction is not None and fraction < min_object_fraction:
            offenders.append({"class": label, "name": name, "object_fraction": fraction})
    return offenders


@dataclass
class NoPartDecision:
    """The outcome of fitting and validating the configured method, as saved after training."""

    method: str
    enabled: bool
    interval: tuple[float, float] | None  # what goes into raw_ad_score_interval (score_interval only)
    bank: BackgroundBank | None  # what gets saved (background_bank only)
    offenders: dict[str, list[dict[str, Any]]]  # per method, the test images judged "no part"
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def decide_no_part(
    fit: BackgroundFit,
    images: Sequence[tuple[str, str, float, float | None]],
    config: ProjectConfig,
) -> NoPartDecision:
    """Validate both methods on the test images and enable the configured one only if it judged
    none of them "no part"."""
    method = config.background_method
    offenders = {
        name: no_part_offenders(name, images, fit.interval, config.min_object_fraction)
        for name in ("score_interval", "background_bank")
        if (name == "score_interval" and fit.interval is not None) or (name == "background_bank" and fit.bank)
    }
    available = method in offenders
    decision = NoPartDecision(method, available, None, None, offenders, warnings=list(fit.warnings))
    if not available:
        return decision
    if offenders[method]:
        listed = ", ".join(f"{o['class']}/{o['name']}" for o in offenders[method])
        decision.enabled = False
        decision.errors.append(
            f"no-part detection ({method}) judged {len(offenders[method])} test image(s) with a part in view as "
            f"'no part': {listed}. It is disabled for this training so no part is skipped. Check those images, "
            "capture background images of the truly empty scene"
            + (" or lower min_object_fraction" if method == "background_bank" else " or lower background_k")
            + ", then retrain."
        )
        for line in decision.errors:
            log.warning("%s", line)
        return decision
    if method == "score_interval":
        decision.interval = fit.interval
    else:
        decision.bank = fit.bank
    return decision


def baseline_summary(fit: BackgroundFit, decision: NoPartDecision, config: ProjectConfig) -> dict[str, Any]:
    """The content of ``results/background_baseline.json``."""
    bank = fit.bank
    return {
        "method": decision.method,
        "enabled": decision.enabled,
        "images": fit.names,
        "scores": fit.scores,
        "mean": fit.mean,
        "std": fit.std,
        "interval": list(fit.interval) if fit.interval else None,
        "background_k": config.background_k,
        "background_margin": config.background_margin,
        "background_bank": None if bank is None else {
            "patches": int(bank.features.shape[0]),
            "patch_threshold": bank.patch_threshold,
            "patch_distance_margin": PATCH_DISTANCE_MARGIN,
            "min_object_fraction": config.min_object_fraction,
        },
        "validation": {name: {"no_part_test_images": items, "passed": not items}
                       for name, items in decision.offenders.items()},
        "errors": decision.errors,
        "warnings": decision.warnings,
    }


def save_no_part_model(decision: NoPartDecision, results_dir: Path) -> None:
    """Keep the background bank on disk only while it is the enabled method; a stale one is removed."""
    if decision.bank is not None:
        save_background_bank(decision.bank, results_dir)
    else:
        remove_background_bank(results_dir)
