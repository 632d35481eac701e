"""What a project needs next and how it stands: read cheaply from its files, for lists and badges."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from dinoad.bank import MODEL_FILE, bank_settings
from dinoad.config import BANK_SETTINGS, ProjectConfig
from dinoad.errors import DinoadError
from dinoad.project import Project
from dinoad.storage import read_json

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProjectStatus:
    """One project's state as the dashboard shows it."""

    name: str
    counts: dict[str, int]
    trained: bool
    config: ProjectConfig | None
    model_version: str | None = None
    retrain_reasons: list[str] = field(default_factory=list)
    image_auroc: float | None = None
    error: str | None = None

    @property
    def threshold(self) -> float | None:
        return None if self.config is None else self.config.threshold

    @property
    def retrain_required(self) -> bool:
        return bool(self.retrain_reasons)

    @property
    def good_total(self) -> int:
        return self.counts.get("train/good", 0) + self.counts.get("test/good", 0)

    def next_step(self) -> tuple[str, str] | None:
        """(what to do, page) for the first missing prerequisite; None when the project is ready.

        ``page`` is one of "projects", "capture", "train", "validation".
        """
        if self.error:
            return (self.error, "projects")
        if self.counts.get("train/good", 0) == 0:
            return ("capture good images of the part first", "capture")
        if not self.trained:
            return ("train the project to build its memory bank", "train")
        if self.retrain_required:
            return ("settings changed since training: retrain the project", "train")
        return None


def read_model_info(project: Project) -> dict[str, Any] | None:
    """The readable copy of the bank's metadata (results/model.json), or None when missing or damaged."""
    path = project.results_dir / MODEL_FILE
    if not path.is_file():
        return None
    try:
        data = read_json(path)
    except (OSError, ValueError) as exc:
        log.warning("cannot read %s: %s", path, exc)
        return None
    return data if isinstance(data, dict) else None


def changed_settings(model_info: dict[str, Any], config: ProjectConfig) -> list[str]:
    """Bank settings that differ between the saved bank and the current config, as "name old -> new"."""
    saved = model_info.get("settings") or {}
    current = bank_settings(config)
    return [
        f"{name}: {saved.get(name)!r} -> {current[name]!r}"
        for name in BANK_SETTINGS
        if saved.get(name) != current[name]
    ]


def _auroc_from(config: ProjectConfig) -> float | None:
    """The image AUROC that training saved in config.json (None without both test classes)."""
    value = (config.validation_metrics or {}).get("image_auroc")
    return float(value) if isinstance(value, (int, float)) else None


def project_status(project: Project) -> ProjectStatus:
    """Read a project's state without loading its memory bank or any model."""
    counts = project.counts()
    trained = project.is_trained
    try:
        config = project.load_config()
    except DinoadError as exc:
        return ProjectStatus(project.name, counts, trained, None, error=str(exc))
    model_info = read_model_info(project) if trained else None
    version = model_info.get("model_version") if model_info else None
    reasons = changed_settings(model_info, config) if model_info else []
    auroc = _auroc_from(config) if trained else None
    return ProjectStatus(project.name, counts, trained, config, version, reasons, auroc)
