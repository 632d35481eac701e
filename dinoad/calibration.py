"""Choosing the OK / NOK threshold from the validation scores, and saying how much to trust it.

Convention used everywhere: a score ``>= threshold`` is NOK. Defects are the positive class.

Methods (``threshold_method`` in the config):

- ``hybrid`` (default): midway between the ``good_percentile`` (99th) of the good scores and the
  ``defect_quantile`` of the defect scores (0 = the minimum defect score).
- ``f1``: the threshold that maximises F1 on the validation scores. Candidates are the lowest
  score and every midpoint between neighbouring distinct scores, so a separable set gets a
  threshold in the middle of its gap instead of on a defect's score.
- ``good_percentile``: ``good_percentile`` of the good scores times ``good_margin``; the method for a
  project without defect images yet. ``hybrid`` and ``f1`` fall back to it when there are no
  defect scores (a threshold at the lowest score would call every part NOK).
- ``manual``: ``manual_threshold`` as the user set it.

Overlapping classes are reported (``Separation``); the threshold is still returned and saved.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from dinoad.config import ProjectConfig
from dinoad.errors import DinoadError

# Fewer validation images than this per class make a threshold a guess: the user is told what to capture.
MIN_MEANINGFUL_IMAGES = 5
# defect_quantile above 0 is only meaningful with this many defects (one outlier in ten).
MIN_DEFECTS_FOR_QUANTILE = 10
# Separation quality by the gap (lowest defect score - highest good score), in score units.
GAP_EXCELLENT = 0.1
GAP_GOOD = 0.05


class CalibrationError(DinoadError):
    """No threshold can be computed from what the project holds."""


@dataclass(frozen=True)
class Separation:
    """How far apart the good and defect scores are.

    ``gap`` = lowest defect score - highest good score (negative when they overlap);
    ``overlap`` is True when some defect scores no higher than some good image;
    ``good_above_min_defect`` / ``defect_below_max_good`` count the images inside the overlap.
    ``quality``: excellent (gap > 0.1), good (0.05 < gap <= 0.1), fair (0 < gap <= 0.05),
    poor (gap <= 0: a tie already means some image must be misjudged).
    """

    gap: float | None
    overlap: bool | None
    good_above_min_defect: int
    defect_below_max_good: int
    quality: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def separation(good_scores: Sequence[float], defect_scores: Sequence[float]) -> Separation:
    """Gap, overlap and quality band; all None when a class has no scores."""
    if len(good_scores) == 0 or len(defect_scores) == 0:
        return Separation(None, None, 0, 0, None)
    good = np.asarray(good_scores, dtype=np.float64)
    defect = np.asarray(defect_scores, dtype=np.float64)
    max_good, min_defect = float(good.max()), float(defect.min())
    gap = min_defect - max_good
    return Separation(
        gap=gap,
        overlap=gap <= 0,
        good_above_min_defect=int((good >= min_defect).sum()),
        defect_below_max_good=int((defect <= max_good).sum()),
        quality=quality_band(gap),
    )


def quality_band(gap: float) -> str:
    if gap > GAP_EXCELLENT:
        return "excellent"
    if gap > GAP_GOOD:
        return "good"
    if gap > 0:
        return "fair"
    return "poor"


@dataclass(frozen=True)
class ThresholdChoice:
    """The calibrated threshold and how it was reached.

    ``method`` is what the config asked for, ``method_used`` what was applied (differs on a
    fallback); ``notes`` say why in words; ``warnings`` say what makes the result weak and what
    to capture next.
    """

    threshold: float
    method: str
    method_used: str
    separation: Separation
    good_reference: float | None = None  # the good percentile used (hybrid, good_percentile)
    defect_reference: float | None = None  # the defect quantile used (hybrid)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["separation"] = self.separation.to_dict()
        return data


def good_percentile_threshold(good_scores: Sequence[float], percentile: float, margin: float) -> float:
    """``percentile`` of the good scores (linear interpolation) times ``margin``."""
    return float(np.percentile(np.asarray(good_scores, dtype=np.float64), percentile)) * margin


def hybrid_threshold(
    good_scores: Sequence[float], defect_scores: Sequence[float], percentile: float, defect_quantile: float
) -> tuple[float, float, float]:
    """(threshold, good percentile, defect quantile): the threshold lies midway between the two."""
    good_reference = float(np.percentile(np.asarray(good_scores, dtype=np.float64), percentile))
    defect_reference = float(np.quantile(np.asarray(defect_scores, dtype=np.float64), defect_quantile))
    return (good_reference + defect_reference) / 2.0, good_reference, defect_reference


def f1_threshold(good_scores: Sequence[float], defect_scores: Sequence[float]) -> float:
    """The threshold with the highest F1 (defect = positive, score >= threshold = NOK).

    Among equally good thresholds the lowest wins: missing a defect costs more than a false alarm.
    """
    good = np.asarray(good_scores, dtype=np.float64)
    defect = np.asarray(defect_scores, dtype=np.float64)
    distinct = np.unique(np.concatenate([good, defect]))
    candidates = np.concatenate([distinct[:1], (distinct[:-1] + distinct[1:]) / 2.0])
    true_positives = (defect[None, :] >= candidates[:, None]).sum(axis=1)
    false_positives = (good[None, :] >= candidates[:, None]).sum(axis=1)
    false_negatives = defect.size - true_positives
    f1 = 2 * true_positives / np.maximum(2 * true_positives + false_positives + false_negatives, 1)
    return float(candidates[int(np.argmax(f1))])  # argmax returns the first (lowest) maximum


def too_few_images_warnings(good_count: int, defect_count: int, shots: int) -> list[str]:
    """Plain-words warnings when a class has fewer than MIN_MEANINGFUL_IMAGES validation images."""
    warnings = []
    if good_count < MIN_MEANINGFUL_IMAGES:
        missing = MIN_MEANINGFUL_IMAGES - good_count
        warnings.append(
            f"only {good_count} test/good image(s): the threshold is a guess. Capture at least {missing} more "
            f"good part(s); once train/good holds its {shots} shots, new good captures go to test/good."
        )
    if defect_count < MIN_MEANINGFUL_IMAGES:
        missing = MIN_MEANINGFUL_IMAGES - defect_count
        warnings.append(
            f"only {defect_count} test/defect image(s): the threshold cannot be checked against real defects. "
            f"Capture at least {missing} more defective part(s) into test/defect."
        )
    return warnings


def choose_threshold(
    good_scores: Sequence[float], defect_scores: Sequence[float], config: ProjectConfig
) -> ThresholdChoice:
    """Apply the config's threshold method to the validation scores.

    Raises CalibrationError when no threshold can be computed: no good scores (except ``manual``),
    or ``manual`` without a value. Notes and warnings are returned, not logged: the caller shows them.
    """
    good = [float(s) for s in good_scores]
    defect = [float(s) for s in defect_scores]
    if not all(math.isfinite(s) for s in good + defect):
        raise CalibrationError("validation scores contain NaN or infinity; retrain the project")
    method = config.threshold_method
    notes: list[str] = []
    warnings = too_few_images_warnings(len(good), len(defect), config.shots)
    spread = separation(good, defect)
    if spread.overlap:
        warnings.append(
            f"good and defect scores overlap ({spread.good_above_min_defect} good image(s) score at or above the "
            f"lowest defect, {spread.defect_below_max_good} defect(s) at or below the highest good image): "
            "no threshold separates them all. Review those images or retrain with other settings."
        )
    if method == "manual":
        if config.manual_threshold is None:
            raise CalibrationError(
                "threshold_method is manual but no manual threshold is set: set one on the Validation page "
                "or choose another threshold method"
            )
    elif not good:
        raise CalibrationError(
            "no test/good scores to calibrate a threshold: capture more good parts than the project's "
            f"{config.shots} shots (the extra ones go to test/good), or set a manual threshold"
        )
    method_used = method
    if method in ("hybrid", "f1") and not defect:
        method_used = "good_percentile"
        notes.append(
            f"no defect images yet: {method} fell back to good_percentile "
            f"({config.good_percentile:g}th percentile of good scores x {config.good_margin:g})"
        )
    good_reference = defect_reference = None
    if method_used == "manual":
        threshold = float(config.manual_threshold)
    elif method_used == "good_percentile":
        good_reference = float(np.percentile(good, config.good_percentile))
        threshold = good_percentile_threshold(good, config.good_percentile, config.good_margin)
    elif method_used == "hybrid":
        if config.defect_quantile > 0 and len(defect) < MIN_DEFECTS_FOR_QUANTILE:
            warnings.append(
                f"defect_quantile {config.defect_quantile:g} with only {len(defect)} defect image(s): "
                f"it is meant for {MIN_DEFECTS_FOR_QUANTILE} or more; with fewer, 0 (the minimum) is safer"
            )
        threshold, good_reference, defect_reference = hybrid_threshold(
            good, defect, config.good_percentile, config.defect_quantile
        )
    else:
        threshold = f1_threshold(good, defect)
    return ThresholdChoice(threshold, method, method_used, spread, good_reference, defect_reference, notes, warnings)
