"""Validation metrics: confusion counts and rates at a threshold (with 95 % Wilson intervals),
threshold-free image AUROC / average precision, pixel AUROC from ground-truth masks, and score
statistics per class.

Defects are the positive class; a score ``>= threshold`` is NOK (predicted defect).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

# Two-sided 95 % normal quantile, used by the Wilson score interval.
Z_95 = 1.959963984540054
# Percentiles reported for each class of scores.
REPORTED_PERCENTILES = (1, 5, 25, 75, 95, 99)
# Anomaly maps and masks are compared at most at this side length: enough for a stable pixel
# AUROC, and it bounds memory for large projects at high resolutions.
PIXEL_AUROC_MAX_SIDE = 256


@dataclass(frozen=True)
class ConfusionCounts:
    """Images by truth and verdict at one threshold (defect = positive)."""

    tp: int  # defect judged NOK
    tn: int  # good judged OK
    fp: int  # good judged NOK (false alarm)
    fn: int  # defect judged OK (escaped defect)

    @property
    def total(self) -> int:
        return self.tp + self.tn + self.fp + self.fn

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def confusion_counts(good_scores: Sequence[float], defect_scores: Sequence[float], threshold: float) -> ConfusionCounts:
    good = np.asarray(good_scores, dtype=np.float64)
    defect = np.asarray(defect_scores, dtype=np.float64)
    tp = int((defect >= threshold).sum())
    fp = int((good >= threshold).sum())
    return ConfusionCounts(tp=tp, tn=int(good.size - fp), fp=fp, fn=int(defect.size - tp))


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float] | None:
    """Wilson score interval for a binomial proportion; None when there are no trials.

    Unlike the normal approximation it stays inside [0, 1] and is honest at 0/n and n/n:
    10 of 10 correct gives about [0.72, 1.0], not [1.0, 1.0].
    """
    if trials <= 0:
        return None
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must be between 0 and trials={trials}; got {successes}")
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Rate:
    """A proportion ``successes / trials`` with its 95 % Wilson interval; value None when trials = 0."""

    value: float | None
    low: float | None
    high: float | None
    successes: int
    trials: int

    @classmethod
    def of(cls, successes: int, trials: int) -> Rate:
        interval = wilson_interval(successes, trials)
        if interval is None:
            return cls(None, None, None, successes, trials)
        return cls(successes / trials, interval[0], interval[1], successes, trials)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ThresholdMetrics:
    """Everything measured at one threshold. F1 is not a proportion, so it has no Wilson interval."""

    threshold: float
    counts: ConfusionCounts
    accuracy: Rate
    precision: Rate
    recall: Rate
    specificity: Rate
    fpr: Rate
    fnr: Rate
    f1: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "counts": self.counts.to_dict(),
            **{name: getattr(self, name).to_dict()
               for name in ("accuracy", "precision", "recall", "specificity", "fpr", "fnr")},
            "f1": self.f1,
        }


def threshold_metrics(
    good_scores: Sequence[float], defect_scores: Sequence[float], threshold: float
) -> ThresholdMetrics:
    counts = confusion_counts(good_scores, defect_scores, threshold)
    tp, tn, fp, fn = counts.tp, counts.tn, counts.fp, counts.fn
    f1_denominator = 2 * tp + fp + fn
    return ThresholdMetrics(
        threshold=float(threshold),
        counts=counts,
        accuracy=Rate.of(tp + tn, counts.total),
        precision=Rate.of(tp, tp + fp),
        recall=Rate.of(tp, tp + fn),
        specificity=Rate.of(tn, tn + fp),
        fpr=Rate.of(fp, fp + tn),
        fnr=Rate.of(fn, fn + tp),
        f1=2 * tp / f1_denominator if f1_denominator else None,
    )


def _labels_and_scores(good_scores: Sequence[float], defect_scores: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    labels = np.concatenate([np.zeros(len(good_scores)), np.ones(len(defect_scores))]).astype(np.int64)
    scores = np.concatenate([np.asarray(good_scores, np.float64), np.asarray(defect_scores, np.float64)])
    return labels, scores


def image_auroc(good_scores: Sequence[float], defect_scores: Sequence[float]) -> float | None:
    """Probability that a defect outscores a good image (ties count half); None without both classes."""
    if len(good_scores) == 0 or len(defect_scores) == 0:
        return None
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(*_labels_and_scores(good_scores, defect_scores)))


def average_precision(good_scores: Sequence[float], defect_scores: Sequence[float]) -> float | None:
    """Area under the precision-recall curve (scikit-learn's step-wise AP); None without both classes."""
    if len(good_scores) == 0 or len(defect_scores) == 0:
        return None
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(*_labels_and_scores(good_scores, defect_scores)))


def roc_points(good_scores: Sequence[float], defect_scores: Sequence[float]) -> dict[str, list[float]]:
    """ROC curve as lists ``fpr``, ``tpr``, ``threshold`` (empty without both classes)."""
    if len(good_scores) == 0 or len(defect_scores) == 0:
        return {"fpr": [], "tpr": [], "threshold": []}
    from sklearn.metrics import roc_curve

    fpr, tpr, thresholds = roc_curve(*_labels_and_scores(good_scores, defect_scores), drop_intermediate=False)
    finite = np.where(np.isfinite(thresholds), thresholds, np.nan)
    return {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "threshold": [None if math.isnan(t) else t for t in finite]}


def pr_points(good_scores: Sequence[float], defect_scores: Sequence[float]) -> dict[str, list[float]]:
    """Precision-recall curve as lists ``recall``, ``precision`` (empty without both classes)."""
    if len(good_scores) == 0 or len(defect_scores) == 0:
        return {"recall": [], "precision": []}
    from sklearn.metrics import precision_recall_curve

    precision, recall, _ = precision_recall_curve(*_labels_and_scores(good_scores, defect_scores))
    return {"recall": recall.tolist(), "precision": precision.tolist()}


def threshold_sweep(
    good_scores: Sequence[float], defect_scores: Sequence[float], points: int = 101
) -> list[dict[str, float | None]]:
    """Accuracy, precision, recall, F1 and FPR at ``points`` thresholds evenly spread over the scores."""
    everything = np.concatenate([np.asarray(good_scores, np.float64), np.asarray(defect_scores, np.float64)])
    if everything.size == 0:
        return []
    low, high = float(everything.min()), float(everything.max())
    rows = []
    for threshold in np.linspace(low, high, points) if high > low else [low]:
        metrics = threshold_metrics(good_scores, defect_scores, float(threshold))
        rows.append({"threshold": float(threshold), "accuracy": metrics.accuracy.value,
                     "precision": metrics.precision.value, "recall": metrics.recall.value,
                     "f1": metrics.f1, "fpr": metrics.fpr.value})
    return rows


def score_statistics(scores: Sequence[float]) -> dict[str, Any]:
    """count, min, max, mean, median, std (sample, ddof=1; 0 for a single score) and percentiles
    (linear interpolation) of one class; only ``count`` when there are no scores."""
    values = np.asarray(scores, dtype=np.float64)
    if values.size == 0:
        return {"count": 0}
    return {
        "count": int(values.size),
        "min": float(values.min()),
        "max": float(values.max()),
        "mean": float(values.mean()),
        "median": float(np.median(values)),
        "std": float(values.std(ddof=1)) if values.size > 1 else 0.0,
        "percentiles": {f"p{q}": float(np.percentile(values, q)) for q in REPORTED_PERCENTILES},
    }


def pixel_grid_size(image_size: int) -> int:
    return min(image_size, PIXEL_AUROC_MAX_SIDE)


def prepare_map(anomaly_map: np.ndarray, side: int) -> np.ndarray:
    """An anomaly map brought to side x side (area average) for pixel AUROC."""
    map32 = np.asarray(anomaly_map, dtype=np.float32)
    if map32.shape == (side, side):
        return map32
    return cv2.resize(map32, (side, side), interpolation=cv2.INTER_AREA)


def prepare_mask(mask: np.ndarray, side: int) -> np.ndarray:
    """A ground-truth mask (any size, grey or RGB, non-zero = defect) squeezed like the image was
    (stretch to a square) to side x side booleans."""
    grey = np.asarray(mask)
    if grey.ndim == 3:
        grey = grey.max(axis=2)
    binary = (grey > 0).astype(np.uint8)
    return cv2.resize(binary, (side, side), interpolation=cv2.INTER_NEAREST).astype(bool)


def pixel_auroc(maps: Sequence[np.ndarray], masks: Sequence[np.ndarray]) -> float | None:
    """AUROC of all pixels of all given maps against their masks (same shapes, after
    ``prepare_map`` / ``prepare_mask``); None unless both defect and normal pixels exist."""
    if not maps:
        return None
    truth = np.concatenate([np.asarray(m, bool).ravel() for m in masks])
    if truth.all() or not truth.any():
        return None
    from sklearn.metrics import roc_auc_score

    values = np.concatenate([np.asarray(m, np.float32).ravel() for m in maps])
    return float(roc_auc_score(truth, values))
