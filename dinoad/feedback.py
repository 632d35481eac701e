"""Feedback from the line without retraining: "this is good" grows the memory bank, undo restores it.

Every change keeps the previous bank file in ``results/bank_history/`` and pushes an entry on a
small JSON stack, so undo can restore exactly the bank (and remove exactly the image) it replaced.
"""

from __future__ import annotations

import dataclasses
import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from dinoad.backbone import Backbone
from dinoad.background import load_background_bank, save_background_bank
from dinoad.bank import BANK_FILE, MemoryBank, load_bank, save_bank, write_model_description
from dinoad.config import ProjectConfig
from dinoad.coreset import select_coreset
from dinoad.errors import DinoadError
from dinoad.locks import project_lock
from dinoad.preprocess import resize_square, to_batch
from dinoad.project import Project
from dinoad.projection import project as apply_projection
from dinoad.storage import read_json, write_bytes_atomic, write_json_atomic

HISTORY_DIR = "bank_history"
HISTORY_FILE = "history.json"


def _history_dir(project: Project) -> Path:
    return project.results_dir / HISTORY_DIR


def _read_history(project: Project) -> list[dict]:
    path = _history_dir(project) / HISTORY_FILE
    return read_json(path) if path.is_file() else []


def clear_feedback_history(project: Project) -> None:
    """Forget undo steps and archived banks: a retrained bank starts a new lineage."""
    shutil.rmtree(_history_dir(project), ignore_errors=True)


def feedback_history(project: Project) -> list[dict]:
    """Feedback steps that undo can revert, oldest first."""
    return _read_history(project)


def bank_patches_for_image(bank: MemoryBank, backbone: Backbone, config: ProjectConfig,
                           rgb: np.ndarray) -> torch.Tensor:
    """The patches one image adds to the bank: features -> the bank's projection -> the coreset rule."""
    square = resize_square(rgb, config.image_size)
    features = backbone.patch_features(to_batch([square]))[0]
    patches = apply_projection(features.reshape(-1, features.shape[-1]), bank.projection)
    kept = select_coreset(patches, config.coreset_method, config.coreset_ratio, config.coreset_seed)
    return patches[kept]


def add_good_feedback(project: Project, bank: MemoryBank, backbone: Backbone, config: ProjectConfig,
                      rgb: np.ndarray) -> MemoryBank:
    """Append the frame's patches to the bank as a new version and save the frame to train/good.

    The previous bank stays in the history for ``undo_feedback``. Returns the new, saved bank.
    """
    current = project.results_dir / BANK_FILE
    if not current.is_file():
        raise DinoadError("train the project before adding feedback to its memory bank")
    new_patches = bank_patches_for_image(bank, backbone, config, rgb)
    with project_lock(project.results_dir, "a memory bank update"):
        return _append_to_bank(project, bank, new_patches, rgb)


def _append_to_bank(project: Project, bank: MemoryBank, new_patches: torch.Tensor, rgb: np.ndarray) -> MemoryBank:
    current = project.results_dir / BANK_FILE
    if load_bank(project.results_dir).version != bank.version:
        raise DinoadError("the memory bank changed since this frame was scored (retrained?); reload and try again")
    history_dir = _history_dir(project)
    write_bytes_atomic(history_dir / f"{bank.version}.safetensors", current.read_bytes())
    image_path = project.add_image("train/good", rgb)
    info = dataclasses.replace(
        bank.info,
        num_train_images=bank.info.num_train_images + 1,
        num_patches_before_coreset=bank.info.num_patches_before_coreset + int(np.prod(bank.info.patch_grid)),
        num_patches=bank.info.num_patches + int(new_patches.shape[0]),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    updated = save_bank(MemoryBank(torch.cat([bank.features, new_patches]), bank.projection, info), project.results_dir)
    _follow_background_bank(project, bank.version, updated.version)
    history = _read_history(project)
    history.append({"previous_version": bank.version, "version": updated.version,
                    "image": image_path.name, "added_patches": int(new_patches.shape[0]),
                    "at": info.created_at})
    write_json_atomic(history_dir / HISTORY_FILE, history)
    return updated


def undo_feedback(project: Project) -> MemoryBank:
    """Restore the bank from before the last feedback and remove the image that feedback added."""
    with project_lock(project.results_dir, "a memory bank update"):
        return _undo(project)


def _undo(project: Project) -> MemoryBank:
    history = _read_history(project)
    if not history:
        raise DinoadError("there is no feedback to undo")
    last = history[-1]
    if load_bank(project.results_dir).version != last["version"]:
        raise DinoadError("the project was retrained since this feedback; undo is no longer possible")
    archived = _history_dir(project) / f"{last['previous_version']}.safetensors"
    write_bytes_atomic(project.results_dir / BANK_FILE, archived.read_bytes())
    restored = load_bank(project.results_dir)
    write_model_description(restored, project.results_dir)
    _follow_background_bank(project, last["version"], restored.version)
    image = project.images_dir("train/good") / last["image"]
    image.unlink(missing_ok=True)
    write_json_atomic(_history_dir(project) / HISTORY_FILE, history[:-1])
    archived.unlink(missing_ok=True)
    return restored


def _follow_background_bank(project: Project, old_version: str, new_version: str) -> None:
    """Feedback adds good patches in the same projection, so the background bank stays valid: stamp it
    with the new bank version, or loading the project would turn no-part detection off."""
    background = load_background_bank(project.results_dir, old_version)
    if background is not None:
        save_background_bank(dataclasses.replace(background, bank_version=new_version), project.results_dir)


def add_defect_feedback(project: Project, rgb: np.ndarray) -> Path:
    """Keep a frame the operator calls a defect in test/defect for the next calibration."""
    return project.add_image("test/defect", rgb)
