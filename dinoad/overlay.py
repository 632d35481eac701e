"""Heatmap overlays in threshold units, on a fixed colour scale so a good image stays cool."""

from __future__ import annotations

import cv2
import numpy as np

HEATMAP_ALPHA = 0.45
# The colour scale spans 0 .. SCALE_IN_THRESHOLDS x threshold: the threshold sits mid-scale.
SCALE_IN_THRESHOLDS = 2.0


def colour_scale_max(threshold: float | None, anomaly_map: np.ndarray) -> float:
    """Top of the colour scale: 2x the threshold; without a threshold, the map's own maximum."""
    if threshold is not None and threshold > 0:
        return SCALE_IN_THRESHOLDS * threshold
    return max(float(anomaly_map.max()), 1e-6)


def colourise(anomaly_map: np.ndarray, scale_max: float) -> np.ndarray:
    """RGB JET colours of ``anomaly_map`` on the fixed scale 0 .. ``scale_max`` (clipped)."""
    levels = np.clip(anomaly_map / scale_max, 0.0, 1.0)
    return cv2.cvtColor(cv2.applyColorMap((levels * 255).astype(np.uint8), cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)


def heatmap_overlay(rgb: np.ndarray, anomaly_map: np.ndarray, scale_max: float,
                    threshold: float | None = None) -> np.ndarray:
    """Blend a JET heatmap of ``anomaly_map`` (clipped to [0, scale_max]) over ``rgb``;
    outline regions at or above ``threshold``. Returns RGB uint8 at the image's size."""
    height, width = rgb.shape[:2]
    resized = cv2.resize(anomaly_map.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    colours = colourise(resized, scale_max)
    blended = cv2.addWeighted(rgb, 1.0 - HEATMAP_ALPHA, colours, HEATMAP_ALPHA, 0.0)
    if threshold is not None:
        above = (resized >= threshold).astype(np.uint8)
        contours, _ = cv2.findContours(above, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(blended, contours, -1, (255, 255, 255), max(1, min(height, width) // 200))
    return blended
