"""A deterministic synthetic inspection scene: a textured part on a plain background.

Used by the demo project and by the test suite, so what a newcomer sees is what CI proves.
Everything is generated from a seed: no image files are shipped.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

SCENE_SIZE = (240, 320)  # (height, width) of a generated frame
DEFECT_KINDS = ("scratch", "missing_corner", "spot", "crack")
BACKGROUND_COLOUR = (92, 98, 104)
PART_COLOUR = (186, 160, 112)


def _background(rng: np.random.Generator, brightness: float) -> np.ndarray:
    height, width = SCENE_SIZE
    base = np.empty((height, width, 3), np.float32)
    base[:] = np.array(BACKGROUND_COLOUR, np.float32) * brightness
    return base + rng.normal(0.0, 2.0, base.shape).astype(np.float32)


def _part_layer() -> tuple[np.ndarray, np.ndarray]:
    """The part drawn upright at the frame centre: (colour image, 0/1 mask)."""
    height, width = SCENE_SIZE
    part = np.zeros((height, width, 3), np.uint8)
    mask = np.zeros((height, width), np.uint8)
    top_left, bottom_right = (width // 2 - 90, height // 2 - 62), (width // 2 + 90, height // 2 + 62)
    cv2.rectangle(part, top_left, bottom_right, PART_COLOUR, thickness=-1)
    cv2.rectangle(mask, top_left, bottom_right, 1, thickness=-1)
    for column in range(top_left[0] + 20, bottom_right[0] - 10, 28):
        for row in range(top_left[1] + 20, bottom_right[1] - 10, 28):
            cv2.circle(part, (column, row), 6, (70, 62, 50), thickness=-1)
            cv2.circle(part, (column, row), 9, (150, 128, 90), thickness=2)
    for row in range(top_left[1] + 6, bottom_right[1], 14):
        cv2.line(part, (top_left[0] + 4, row), (top_left[0] + 12, row), (120, 104, 80), 2)
    return part, mask


def _draw_defect(part: np.ndarray, mask: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """Draw a defect on the upright part; returns the defect's ground-truth mask."""
    height, width = SCENE_SIZE
    truth = np.zeros((height, width), np.uint8)
    cx, cy = width // 2 + int(rng.integers(-50, 50)), height // 2 + int(rng.integers(-30, 30))
    if kind == "scratch":
        angle = rng.uniform(0, math.pi)
        dx, dy = int(40 * math.cos(angle)), int(40 * math.sin(angle))
        for layer in (part, truth):
            cv2.line(layer, (cx - dx, cy - dy), (cx + dx, cy + dy), (240, 240, 235) if layer is part else 1, 3)
    elif kind == "spot":
        radius = int(rng.integers(8, 13))
        cv2.circle(part, (cx, cy), radius, (40, 30, 25), thickness=-1)
        cv2.circle(truth, (cx, cy), radius, 1, thickness=-1)
    elif kind == "missing_corner":
        x0, y0 = width // 2 + 90, height // 2 - 62  # top-right corner of the part
        size = int(rng.integers(34, 46))
        triangle = np.array([[x0, y0], [x0 - size, y0], [x0, y0 + size]], np.int32)
        cv2.fillPoly(part, [triangle], (0, 0, 0))
        cv2.fillPoly(mask, [triangle], 0)
        cv2.fillPoly(truth, [triangle], 1)
    elif kind == "crack":
        points = [(cx - 40, cy)]
        for step in range(1, 9):
            points.append((cx - 40 + step * 10, cy + int(rng.integers(-8, 9))))
        polyline = np.array(points, np.int32)
        cv2.polylines(part, [polyline], False, (25, 20, 18), 3)
        cv2.polylines(truth, [polyline], False, 1, 3)
    else:
        raise ValueError(f"defect kind must be one of {', '.join(DEFECT_KINDS)}; got {kind!r}")
    return truth


def generate_scene(kind: str, index: int, seed: int = 0, offset_x: float = 0.0) -> tuple[np.ndarray, np.ndarray | None]:
    """One RGB frame: ``background`` (empty scene), ``good``, or a defect kind from DEFECT_KINDS.

    Each frame varies pose (shift, small rotation), light and sensor noise by (seed, kind, index);
    ``offset_x`` moves the part sideways (pixels) for clips of parts passing by.
    Returns (image, defect mask or None).
    """
    key = [seed, index, ["background", "good", *DEFECT_KINDS].index(kind)]
    rng = np.random.default_rng(key)
    brightness = float(rng.uniform(0.94, 1.06))
    canvas = _background(rng, brightness)
    if kind == "background":
        return np.clip(canvas, 0, 255).astype(np.uint8), None
    part, mask = _part_layer()
    truth = None if kind == "good" else _draw_defect(part, mask, kind, rng)
    height, width = SCENE_SIZE
    pose = cv2.getRotationMatrix2D((width / 2, height / 2), float(rng.uniform(-3, 3)), 1.0)
    pose[:, 2] += rng.uniform(-6, 6, size=2)
    pose[0, 2] += offset_x
    part = cv2.warpAffine(part, pose, (width, height), flags=cv2.INTER_LINEAR)
    mask = cv2.warpAffine(mask, pose, (width, height), flags=cv2.INTER_NEAREST)
    canvas[mask > 0] = part[mask > 0].astype(np.float32) * brightness
    canvas += rng.normal(0.0, 2.0, canvas.shape).astype(np.float32)
    if truth is not None:
        truth = cv2.warpAffine(truth, pose, (width, height), flags=cv2.INTER_NEAREST)
    return np.clip(canvas, 0, 255).astype(np.uint8), truth

