"""Anomaly-detection metrics of the few-shot literature: image AUROC, pixel AUROC and AUPRO."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

# AUPRO integrates the per-region overlap up to this false-positive rate (MVTec AD convention).
AUPRO_MAX_FPR = 0.3
# numpy 2 renamed trapz to trapezoid; requirements allow numpy 1.26.
_trapezoid = getattr(np, "trapezoid", None) or np.trapz
# Thresholds sampled along the false-positive-rate axis for the AUPRO curve.
AUPRO_STEPS = 300


def image_auroc(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    """Area under the ROC curve of image scores; None unless both classes are present."""
    from sklearn.metrics import roc_auc_score

    if len(set(labels)) < 2:
        return None
    return float(roc_auc_score(labels, scores))


def pixel_auroc(maps: Sequence[np.ndarray], masks: Sequence[np.ndarray]) -> float | None:
    """ROC AUC over every pixel of every test image (anomaly maps against binary masks)."""
    from sklearn.metrics import roc_auc_score

    truth = np.concatenate([np.asarray(mask).ravel() > 0 for mask in masks])
    if truth.all() or not truth.any():
        return None
    scores = np.concatenate([np.asarray(heat, np.float32).ravel() for heat in maps])
    return float(roc_auc_score(truth, scores))


def _overlap_curves(maps: Sequence[np.ndarray], masks: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Sorted anomaly scores of each connected defect region."""
    regions = []
    for heat, mask in zip(maps, masks, strict=True):
        binary = (np.asarray(mask) > 0).astype(np.uint8)
        if not binary.any():
            continue
        count, labelled = cv2.connectedComponents(binary, connectivity=8)
        regions += [np.sort(np.asarray(heat)[labelled == region]) for region in range(1, count)]
    return regions


def aupro(maps: Sequence[np.ndarray], masks: Sequence[np.ndarray], max_fpr: float = AUPRO_MAX_FPR) -> float | None:
    """Area under the per-region-overlap curve up to ``max_fpr``, normalised to [0, 1].

    PRO(t) is the mean over connected ground-truth regions of the share of the region's pixels
    scoring >= t; FPR(t) the share of defect-free pixels scoring >= t (as in Bergmann et al. 2021).
    """
    regions = _overlap_curves(maps, masks)
    normal = np.sort(np.concatenate([np.asarray(heat)[np.asarray(mask) == 0].ravel()
                                     for heat, mask in zip(maps, masks, strict=True)]))
    if not regions or normal.size == 0:
        return None
    # Thresholds at evenly spaced false-positive rates, from none to max_fpr.
    quantiles = np.linspace(1.0, 1.0 - max_fpr, AUPRO_STEPS)
    thresholds = np.concatenate([[np.nextafter(normal[-1], np.inf)], np.quantile(normal, quantiles[1:])])
    fpr = 1.0 - np.searchsorted(normal, thresholds, side="left") / normal.size
    pro = np.mean([1.0 - np.searchsorted(region, thresholds, side="left") / region.size for region in regions],
                  axis=0)
    order = np.argsort(fpr, kind="stable")
    fpr, pro = fpr[order], pro[order]
    inside = fpr <= max_fpr
    fpr_clipped = np.append(fpr[inside], max_fpr)
    pro_clipped = np.append(pro[inside], np.interp(max_fpr, fpr, pro))
    return float(_trapezoid(pro_clipped, fpr_clipped) / max_fpr)
