"""The method's preprocessing: RGB, square resize to the training resolution, ImageNet normalisation."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def resize_square(rgb: np.ndarray, size: int) -> np.ndarray:
    """Resize to size x size: INTER_AREA when shrinking (no aliasing), INTER_CUBIC when enlarging."""
    height, width = rgb.shape[:2]
    if (height, width) == (size, size):
        return rgb
    shrinking = height * width >= size * size
    return cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)


def normalize(rgb_square: np.ndarray) -> np.ndarray:
    """(S, S, 3) uint8 RGB -> (3, S, S) float32 with ImageNet mean/std."""
    scaled = rgb_square.astype(np.float32) * (1.0 / 255.0)
    return ((scaled - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1)


def to_batch(squares: Sequence[np.ndarray]) -> torch.Tensor:
    """Stack already-resized RGB squares into a normalised (B, 3, S, S) float32 tensor."""
    return torch.from_numpy(np.ascontiguousarray(np.stack([normalize(s) for s in squares])))


def preprocess(images: Sequence[np.ndarray], size: int) -> torch.Tensor:
    """RGB uint8 images of any size -> normalised (B, 3, size, size) float32 tensor."""
    return to_batch([resize_square(image, size) for image in images])


ROTATION_COPIES = {"none": 1, "90": 4, "45": 8}  # images per training image for each augmentation mode


def rotations(rgb_square: np.ndarray, mode: str) -> list[np.ndarray]:
    """Rotated copies for augmentation: ``none`` -> [image]; ``90`` -> 4 exact quarter turns;
    ``45`` -> 8 steps of 45 degrees (the diagonal ones fill corners by reflection)."""
    if mode == "none":
        return [rgb_square]
    quarter_turns = [np.ascontiguousarray(np.rot90(rgb_square, k)) for k in range(4)]
    if mode == "90":
        return quarter_turns
    size = rgb_square.shape[0]
    centre = ((size - 1) / 2.0, (size - 1) / 2.0)
    diagonals = [
        cv2.warpAffine(
            rgb_square,
            cv2.getRotationMatrix2D(centre, angle, 1.0),
            (size, size),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT_101,
        )
        for angle in (45, 135, 225, 315)
    ]
    return [image for pair in zip(quarter_turns, diagonals, strict=True) for image in pair]
