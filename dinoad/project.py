"""The project folder: config, images by category, results. Names and files are handled safely."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dinoad.bank import BANK_FILE
from dinoad.config import ProjectConfig
from dinoad.errors import ConfigError, ImageError, ProjectError, StorageError
from dinoad.images import SUPPORTED_EXTENSIONS, encode_png, load_image, save_png
from dinoad.storage import read_json, write_json_atomic

log = logging.getLogger(__name__)

PROJECTS_ENV = "DINOAD_PROJECTS"
CONFIG_FILE = "config.json"
CATEGORIES = ("background", "train/good", "test/good", "test/defect")
MASKS_DIR = "masks/test/defect"  # ground-truth masks, same file names as test/defect
NAME_PATTERN = re.compile(r"[A-Za-z0-9_\- ]{1,64}")
NAME_RULE = "1-64 characters: letters, digits, space, '_' or '-', not starting or ending with a space"


def default_projects_root() -> Path:
    return Path(os.environ.get(PROJECTS_ENV, "projects"))


def check_name(name: str) -> str:
    """Return the name if it is a safe folder name, else raise ProjectError saying the rule."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name) or name != name.strip():
        raise ProjectError(f"invalid project name {name!r}: use {NAME_RULE}")
    return name


def check_category(category: str) -> str:
    if category not in CATEGORIES:
        raise ProjectError(f"unknown image category {category!r}; use one of {', '.join(CATEGORIES)}")
    return category


def _write_new_png(folder: Path, data: bytes) -> Path:
    """Save under the next free NNN.png without ever overwriting (another session may add too)."""
    tmp = folder / f".incoming-{os.getpid()}-{threading.get_ident()}.tmp"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        number = _next_number(folder)
        while True:
            target = folder / f"{number:03d}.png"
            try:
                os.link(tmp, target)  # fails if the name was taken meanwhile
                return target
            except FileExistsError:
                number += 1
    except OSError as exc:
        raise StorageError(
            f"could not save the image in {folder} ({exc.strerror or exc}); free disk space or make the "
            "folder writable, then save again"
        ) from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def _next_number(folder: Path) -> int:
    numbers = [int(p.stem) for p in folder.glob("*.png") if p.stem.isdigit()]
    return max(numbers, default=0) + 1


@dataclass
class ImportReport:
    """Which files were added and which were rejected, each with the reason."""

    added: list[Path] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


class Project:
    """One inspection project folder."""

    def __init__(self, root: Path, name: str) -> None:
        self.name = check_name(name)
        self.path = Path(root) / name

    def __repr__(self) -> str:
        return f"Project({self.path})"

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def results_dir(self) -> Path:
        return self.path / "results"

    def images_dir(self, category: str) -> Path:
        return self.path / "images" / check_category(category)

    @property
    def masks_dir(self) -> Path:
        return self.path / "images" / MASKS_DIR

    def load_config(self) -> ProjectConfig:
        if not self.config_path.is_file():
            raise ProjectError(f"project {self.name!r} has no {CONFIG_FILE}; recreate the project or restore the file")
        try:
            data = read_json(self.config_path)
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"{self.config_path} is not valid JSON ({exc}); fix it or delete it and recreate the project"
            ) from exc
        return ProjectConfig.from_dict(data)

    def save_config(self, config: ProjectConfig) -> None:
        write_json_atomic(self.config_path, config.to_dict())

    def image_paths(self, category: str) -> list[Path]:
        folder = self.images_dir(category)
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUPPORTED_EXTENSIONS)

    def counts(self) -> dict[str, int]:
        return {category: len(self.image_paths(category)) for category in CATEGORIES}

    @property
    def is_trained(self) -> bool:
        return (self.results_dir / BANK_FILE).is_file()

    def add_image(self, category: str, rgb: np.ndarray) -> Path:
        """Save an RGB uint8 image as the next NNN.png of a category."""
        return _write_new_png(self.images_dir(category), encode_png(rgb))

    def add_good_image(self, rgb: np.ndarray) -> Path:
        """Save a captured good part: the first ``shots`` go to train/good (the memory bank), every
        later one to test/good (scored for the threshold). Returns where it was saved."""
        shots = self.load_config().shots
        category = "train/good" if len(self.image_paths("train/good")) < shots else "test/good"
        return self.add_image(category, rgb)

    def import_files(self, category: str, paths: Iterable[Path]) -> ImportReport:
        """Import every readable image (a folder stands for the files in it, sorted); unreadable
        ones are reported, never half-written."""
        report = ImportReport()
        check_category(category)
        for path in _expand_folders(paths):
            try:
                report.added.append(self.add_image(category, load_image(Path(path))))
            except ImageError as exc:
                report.rejected.append((str(path), str(exc)))
        return report

    def remove_image(self, category: str, filename: str) -> None:
        target = self.images_dir(category) / Path(filename).name
        if Path(filename).name != filename or not target.is_file():
            raise ProjectError(f"no image {filename!r} in {category} of project {self.name!r}")
        target.unlink()
        mask = self.masks_dir / filename
        if category == "test/defect" and mask.is_file():
            mask.unlink()

    def import_mvtec(self, category_dir: Path, shots: int | None = None) -> ImportReport:
        """Import an MVTec AD category: ``shots`` evenly spread images of train/good (all when None),
        test/good, every test/<defect> into test/defect, and ground_truth masks when present."""
        category_dir = Path(category_dir)
        train_dir = category_dir / "train" / "good"
        test_dir = category_dir / "test"
        if not train_dir.is_dir() or not test_dir.is_dir():
            raise ProjectError(
                f"{category_dir} is not an MVTec AD category folder: it needs train/good and test/<class> folders"
            )
        report = ImportReport()
        train_files = _image_files(train_dir)
        if shots is not None and shots < len(train_files):
            keep = set(np.linspace(0, len(train_files) - 1, shots).round().astype(int).tolist())
            report.skipped = [str(p) for i, p in enumerate(train_files) if i not in keep]
            train_files = [p for i, p in enumerate(train_files) if i in keep]
        _merge(report, self.import_files("train/good", train_files))
        _merge(report, self.import_files("test/good", _image_files(test_dir / "good")))
        for defect_dir in sorted(p for p in test_dir.iterdir() if p.is_dir() and p.name != "good"):
            for image_path in _image_files(defect_dir):
                try:
                    rgb = load_image(image_path)
                except ImageError as exc:
                    report.rejected.append((str(image_path), str(exc)))
                    continue
                saved = self.add_image("test/defect", rgb)
                report.added.append(saved)
                mask_path = category_dir / "ground_truth" / defect_dir.name / f"{image_path.stem}_mask.png"
                if mask_path.is_file():
                    save_png(self.masks_dir / saved.name, load_image(mask_path))
        return report


def _expand_folders(paths: Iterable[Path]) -> list[Path]:
    expanded: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            expanded.extend(sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")))
        else:
            expanded.append(path)
    return expanded


def _image_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUPPORTED_EXTENSIONS)


def _merge(report: ImportReport, other: ImportReport) -> None:
    report.added.extend(other.added)
    report.rejected.extend(other.rejected)


class ProjectStore:
    """All projects under one root folder (``projects/`` or ``$DINOAD_PROJECTS``)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_projects_root()

    def create(self, name: str, config: ProjectConfig | None = None) -> Project:
        project = Project(self.root, check_name(name))
        if self._exists(name):
            raise ProjectError(f"a project named {name!r} already exists; choose another name")
        for category in CATEGORIES:
            project.images_dir(category).mkdir(parents=True, exist_ok=True)
        project.results_dir.mkdir(parents=True, exist_ok=True)
        project.save_config(config or ProjectConfig())
        log.info("created project %s", project.path)
        return project

    def open(self, name: str) -> Project:
        project = Project(self.root, check_name(name))
        if not project.path.is_dir():
            raise ProjectError(f"no project named {name!r} in {self.root}; create it first")
        return project

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and NAME_PATTERN.fullmatch(p.name))

    def rename(self, old: str, new: str) -> Project:
        project = self.open(old)
        target = Project(self.root, check_name(new))
        if self._exists(new):
            raise ProjectError(f"a project named {new!r} already exists; choose another name")
        os.rename(project.path, target.path)
        return target

    def delete(self, name: str, confirm: str) -> None:
        """Delete a project and all its images; ``confirm`` must repeat the name exactly."""
        project = self.open(name)
        if confirm != name:
            raise ProjectError(f"type the project name {name!r} exactly to confirm deleting it")
        shutil.rmtree(project.path)

    def _exists(self, name: str) -> bool:
        # Case-insensitive file systems would merge "Part" and "part": treat them as one name.
        return any(existing.lower() == name.lower() for existing in self.names())
