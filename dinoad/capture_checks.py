"""Quality checks on a camera frame before it is saved: blur, exposure, near-duplicates.

The checks only warn: the user decides whether to keep the frame. Thresholds are named
constants measured on the synthetic demo scenes (sharp part: Laplacian variance 280-530, the
same frame blurred with sigma 2: 3-4; distinct poses differ by a mean of 2.9+ grey levels on a
64x64 thumbnail, a re-encoded copy of one frame by at most 0.8).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import cv2
import numpy as np

# Variance of the Laplacian below this reads as out of focus or motion-blurred.
BLUR_MIN_VARIANCE = 100.0
# Frames are measured at most this many pixels on the long side, so the blur figure does not
# grow with camera resolution alone.
BLUR_MAX_SIDE = 1024
# Grey levels at or beyond these count as clipped.
CLIPPED_DARK_LEVEL = 5
CLIPPED_BRIGHT_LEVEL = 250
# More than this fraction of clipped pixels, or a mean outside the range, is badly exposed.
MAX_CLIPPED_FRACTION = 0.05
MIN_MEAN_LEVEL = 35.0
MAX_MEAN_LEVEL = 215.0
# Near-duplicate: mean absolute grey-level difference of two 64x64 thumbnails below this.
THUMBNAIL_SIDE = 64
NEAR_DUPLICATE_MAX_DIFFERENCE = 1.5


@dataclass(frozen=True)
class CaptureCheck:
    """The measurements of one frame and the warnings they raise (empty when the frame looks fine)."""

    sharpness: float
    mean_level: float
    dark_fraction: float
    bright_fraction: float
    closest_difference: float | None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.warnings


def grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if rgb.ndim == 3 else rgb


def sharpness(rgb: np.ndarray) -> float:
    """Variance of the Laplacian of the grey image (long side capped at BLUR_MAX_SIDE)."""
    image = grey(rgb)
    long_side = max(image.shape[:2])
    if long_side > BLUR_MAX_SIDE:
        scale = BLUR_MAX_SIDE / long_side
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(image, cv2.CV_64F).var())


def thumbnail(rgb: np.ndarray) -> np.ndarray:
    """A small grey float32 copy used to compare frames for near-duplicates."""
    return cv2.resize(grey(rgb), (THUMBNAIL_SIDE, THUMBNAIL_SIDE), interpolation=cv2.INTER_AREA).astype(np.float32)


def thumbnail_difference(first: np.ndarray, second: np.ndarray) -> float:
    """Mean absolute grey-level difference (0-255) between two thumbnails."""
    return float(np.abs(first - second).mean())


def check_frame(rgb: np.ndarray, previous: Iterable[np.ndarray] = (), check_blur: bool = True) -> CaptureCheck:
    """Measure an RGB uint8 frame and list what looks wrong with it.

    ``previous`` are thumbnails (see :func:`thumbnail`) of images already saved in the same step;
    ``check_blur`` is off for empty-scene (background) frames, which have little texture by design.
    """
    image = grey(rgb)
    pixels = image.size
    dark = float(np.count_nonzero(image <= CLIPPED_DARK_LEVEL)) / pixels
    bright = float(np.count_nonzero(image >= CLIPPED_BRIGHT_LEVEL)) / pixels
    mean = float(image.mean())
    focus = sharpness(image)
    own = thumbnail(image)
    differences = [thumbnail_difference(own, other) for other in previous]
    closest = min(differences) if differences else None

    warnings = []
    if check_blur and focus < BLUR_MIN_VARIANCE:
        warnings.append(
            f"the frame looks blurry (sharpness {focus:.0f}, below {BLUR_MIN_VARIANCE:.0f}): "
            "hold the part still and check the focus"
        )
    if bright > MAX_CLIPPED_FRACTION or mean > MAX_MEAN_LEVEL:
        warnings.append(
            f"the frame is over-exposed ({bright:.0%} of pixels white, mean level {mean:.0f}): "
            "reduce the light or the camera exposure"
        )
    if dark > MAX_CLIPPED_FRACTION or mean < MIN_MEAN_LEVEL:
        warnings.append(
            f"the frame is under-exposed ({dark:.0%} of pixels black, mean level {mean:.0f}): "
            "add light or raise the camera exposure"
        )
    if closest is not None and closest < NEAR_DUPLICATE_MAX_DIFFERENCE:
        warnings.append(
            f"the frame is nearly identical to an image already saved (difference {closest:.2f}): "
            "move or turn the part a little so each image adds something new"
        )
    return CaptureCheck(focus, mean, dark, bright, closest, warnings)
