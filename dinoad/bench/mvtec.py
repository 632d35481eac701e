"""Reading an MVTec AD layout dataset (MVTec AD itself, or VisA converted to the same layout).

    root/<category>/train/good/*.png
    root/<category>/test/good/*.png, root/<category>/test/<defect>/*.png
    root/<category>/ground_truth/<defect>/<name>_mask.png   (or <name>.png)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dinoad.errors import DinoadError
from dinoad.images import SUPPORTED_EXTENSIONS

log = logging.getLogger(__name__)

GOOD = "good"
MASK_SUFFIXES = ("_mask", "")


class DatasetError(DinoadError):
    """The dataset folder is not in the MVTec AD layout."""


@dataclass(frozen=True)
class TestImage:
    path: Path
    defect: str  # "good" or the defect type (the folder name)
    mask: Path | None  # ground-truth mask of a defect image, None for good images or when missing

    @property
    def label(self) -> int:
        return 0 if self.defect == GOOD else 1


@dataclass(frozen=True)
class Category:
    name: str
    train: tuple[Path, ...]
    test: tuple[TestImage, ...]

    @property
    def has_masks(self) -> bool:
        """True when every defect image has a ground-truth mask (pixel metrics are possible)."""
        defects = [image for image in self.test if image.label == 1]
        return bool(defects) and all(image.mask is not None for image in defects)


def _images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUPPORTED_EXTENSIONS)


def _find_mask(category_dir: Path, defect: str, image: Path) -> Path | None:
    folder = category_dir / "ground_truth" / defect
    for suffix in MASK_SUFFIXES:
        for extension in SUPPORTED_EXTENSIONS:
            candidate = folder / f"{image.stem}{suffix}{extension}"
            if candidate.is_file():
                return candidate
    return None


def read_category(category_dir: Path) -> Category:
    """One category folder -> its training images and labelled test images (with masks)."""
    train = _images(category_dir / "train" / GOOD)
    if not train:
        raise DatasetError(f"{category_dir} has no training images in train/good: is it an MVTec AD category folder?")
    test_dir = category_dir / "test"
    if not test_dir.is_dir():
        raise DatasetError(f"{category_dir} has no test folder: an MVTec AD category needs test/good and test/<defect>")
    tests = []
    for defect_dir in sorted(p for p in test_dir.iterdir() if p.is_dir()):
        for image in _images(defect_dir):
            mask = None if defect_dir.name == GOOD else _find_mask(category_dir, defect_dir.name, image)
            tests.append(TestImage(image, defect_dir.name, mask))
    if not tests:
        raise DatasetError(f"{test_dir} holds no images: add test/good and test/<defect> folders")
    return Category(category_dir.name, tuple(train), tuple(tests))


def find_categories(root: Path, names: Sequence[str] | None = None) -> list[Category]:
    """Every category under ``root`` (a folder with train/good), or the named ones."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder: give the MVTec AD root that holds one folder per category")
    if names:
        missing = [name for name in names if not (root / name).is_dir()]
        if missing:
            raise DatasetError(f"no category folder {', '.join(missing)} under {root}")
        folders = [root / name for name in names]
    else:
        folders = sorted(p for p in root.iterdir() if (p / "train" / GOOD).is_dir())
    if not folders:
        raise DatasetError(f"{root} holds no category folders with train/good: is it an MVTec AD root?")
    categories = [read_category(folder) for folder in folders]
    for category in categories:
        if not category.has_masks:
            log.warning("%s: not every defect image has a mask, pixel metrics are skipped", category.name)
    return categories
