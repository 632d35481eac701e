"""The validation report as one zip for download: JSON statistics, chart PNGs, the HTML page."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from dinoad.bank import MODEL_FILE
from dinoad.errors import ProjectError
from dinoad.project import CONFIG_FILE, Project
from dinoad.report import BACKGROUND_BASELINE_FILE, THRESHOLD_VALIDATION_FILE, VAL_DIR

REPORT_SUFFIXES = (".json", ".png", ".html")


def report_files(project: Project) -> list[Path]:
    """Every file of the project's validation report that exists, in a stable order."""
    results = project.results_dir
    val_dir = results / VAL_DIR
    files = sorted(p for p in val_dir.iterdir() if p.is_file() and p.suffix in REPORT_SUFFIXES) \
        if val_dir.is_dir() else []
    extra = [results / THRESHOLD_VALIDATION_FILE, results / BACKGROUND_BASELINE_FILE, results / MODEL_FILE,
             project.path / CONFIG_FILE]
    return files + [p for p in extra if p.is_file()]


def report_zip(project: Project) -> bytes:
    """The report files zipped under a folder named after the project; ProjectError when there are none."""
    files = [p for p in report_files(project) if p.parent.name == VAL_DIR]
    if not files:
        raise ProjectError(f"project {project.name!r} has no validation report yet: train it first")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in report_files(project):
            archive.write(path, f"{project.name}/{path.relative_to(project.path).as_posix()}")
    return buffer.getvalue()
