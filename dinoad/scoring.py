"""From per-patch kNN distances to an image score, an anomaly map and a verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import cv2
import numpy as np

TOP_FRACTION = 0.01  # "top1p_mean": mean of the highest 1 % of patch scores


class Verdict(StrEnum):
    OK = "OK"
    NOK = "NOK"
    NO_PART = "NO PART"


@dataclass(frozen=True)
class ScoredImage:
    """The one result of scoring an image or a live frame.

    ``score`` is the raw anomaly score (never normalised per image); ``anomaly_map`` is
    (image_size, image_size) float32 in the same units; ``patch_scores`` is the (h, w) patch grid.
    ``verdict`` and ``threshold`` are None while the project has no threshold yet.
    ``object_fraction`` is the share of patches the background bank does not explain (None without
    a background bank); below ``min_object_fraction`` the verdict is NO PART.
    """

    score: float
    anomaly_map: np.ndarray
    patch_scores: np.ndarray
    timings_ms: dict[str, float] = field(default_factory=dict)
    threshold: float | None = None
    verdict: Verdict | None = None
    object_fraction: float | None = None

    @property
    def total_ms(self) -> float:
        return float(sum(self.timings_ms.values()))


def image_score(patch_scores: np.ndarray, aggregation: str) -> float:
    """``max`` patch score, or ``top1p_mean``: mean of the top 1 % of patches (at least one)."""
    flat = np.asarray(patch_scores, dtype=np.float32).ravel()
    if aggregation == "max":
        return float(flat.max())
    if aggregation == "top1p_mean":
        count = max(1, int(flat.size * TOP_FRACTION))
        return float(np.partition(flat, flat.size - count)[-count:].mean())
    raise ValueError(f"score aggregation must be max or top1p_mean; got {aggregation!r}")


def anomaly_map(patch_scores: np.ndarray, size: int, sigma: float) -> np.ndarray:
    """Patch grid -> bilinear upsample to size x size -> Gaussian blur (sigma in pixels, 0 = off)."""
    upsampled = cv2.resize(np.asarray(patch_scores, dtype=np.float32), (size, size), interpolation=cv2.INTER_LINEAR)
    if sigma > 0:
        upsampled = cv2.GaussianBlur(upsampled, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT)
    return upsampled


def decide(
    score: float,
    threshold: float | None,
    no_part_interval: tuple[float, float] | None,
    object_fraction: float | None = None,
    min_object_fraction: float | None = None,
) -> Verdict | None:
    """OK / NOK by the threshold (score >= threshold is NOK); NO PART when the score lies in the
    background interval, or when fewer than ``min_object_fraction`` of the patches are not
    explained by the background bank. With NO PART the score is not used for OK / NOK."""
    if no_part_interval is not None and no_part_interval[0] <= score <= no_part_interval[1]:
        return Verdict.NO_PART
    if object_fraction is not None and min_object_fraction is not None and object_fraction < min_object_fraction:
        return Verdict.NO_PART
    if threshold is None:
        return None
    return Verdict.NOK if score >= threshold else Verdict.OK
