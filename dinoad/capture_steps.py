"""The guided capture steps: what to put in front of the camera, how many, and where images go."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dinoad.config import ProjectConfig
from dinoad.project import Project

BACKGROUND_TARGET = 5  # empty-scene images for the "no part in view" baseline
DEFECT_TARGET = 5  # fewer defects make the threshold and the defect recall guesswork
MIN_TEST_GOOD = 5  # good images beyond the shots, to test the memory bank


@dataclass(frozen=True)
class CaptureStep:
    key: str  # "background", "good" or "defect"
    title: str
    instructions: str
    categories: tuple[str, ...]  # project categories this step fills (and counts)
    # An empty scene has little texture, so blur cannot be judged there; and it is meant to look the
    # same every time, so near-duplicates are expected rather than a mistake.
    check_blur: bool
    check_duplicates: bool

    def count(self, counts: dict[str, int]) -> int:
        return sum(counts.get(category, 0) for category in self.categories)

    def target(self, config: ProjectConfig) -> int:
        if self.key == "background":
            return BACKGROUND_TARGET
        if self.key == "good":
            return config.shots + MIN_TEST_GOOD
        return DEFECT_TARGET


STEPS: tuple[CaptureStep, ...] = (
    CaptureStep(
        "background", "Background",
        "Empty scene: remove the part and capture the fixture or conveyor exactly as the camera sees it between "
        "parts. Vary nothing but what really varies (light, a shadow). These images let the live view say "
        "\"no part\" instead of judging an empty scene.",
        ("background",), check_blur=False, check_duplicates=False,
    ),
    CaptureStep(
        "good", "Good parts",
        "Place a good part as it will appear in production and capture; move or turn it a little between "
        "captures.",
        ("train/good", "test/good"), check_blur=True, check_duplicates=True,
    ),
    CaptureStep(
        "defect", "Defects",
        "Capture parts with real defects (scratches, missing pieces, spots). They are only used to check the "
        "threshold, never to train, so a few of each kind are enough.",
        ("test/defect",), check_blur=True, check_duplicates=True,
    ),
)


def step_by_key(key: str) -> CaptureStep:
    for step in STEPS:
        if step.key == key:
            return step
    raise KeyError(f"unknown capture step {key!r}; use one of {', '.join(s.key for s in STEPS)}")


def first_incomplete(counts: dict[str, int], config: ProjectConfig) -> CaptureStep:
    """The first step short of its target (the last step when all are complete)."""
    for step in STEPS:
        if step.count(counts) < step.target(config):
            return step
    return STEPS[-1]


def saver(project: Project, step: CaptureStep) -> Callable[[np.ndarray], Path]:
    """The function that stores an RGB image for this step.

    Good images go through the project's bank/test split (``add_good_image``).
    """
    if step.key == "good":
        return project.add_good_image
    category = step.categories[0]
    return lambda rgb: project.add_image(category, rgb)
