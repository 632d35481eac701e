"""The memory bank on disk: ``results/memory_bank.safetensors`` plus a readable ``results/model.json``.

The safetensors header carries the same metadata as model.json and is the one that counts, so a
crash between the two writes can never pair a bank with somebody else's settings.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from dinoad import __version__
from dinoad.config import BANK_SETTINGS, ProjectConfig
from dinoad.errors import NotTrainedError, RetrainRequired
from dinoad.storage import write_bytes_atomic, write_json_atomic

BANK_FILE = "memory_bank.safetensors"
MODEL_FILE = "model.json"
METADATA_KEY = "dinoad"


@dataclass(frozen=True)
class BankInfo:
    """What a memory bank was built from; everything needed to check it still fits the project."""

    model_id: str
    model_revision: str | None
    model_type: str
    patch_size: int
    num_register_tokens: int
    hidden_size: int
    image_size: int
    patch_grid: tuple[int, int]
    feature_dim: int
    settings: dict[str, Any]
    num_train_images: int
    num_patches_before_coreset: int
    num_patches: int
    dinoad_version: str = __version__
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["patch_grid"] = list(self.patch_grid)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BankInfo:
        data = dict(data)
        data["patch_grid"] = tuple(data["patch_grid"])
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class MemoryBank:
    """Patch features of the good training images (after projection and coreset)."""

    features: torch.Tensor  # (N, feature_dim) float32
    projection: torch.Tensor | None  # (hidden_size, feature_dim) or None
    info: BankInfo
    version: str = ""  # content hash of the saved file; empty until saved


def bank_settings(config: ProjectConfig) -> dict[str, Any]:
    """The settings a bank depends on; a change in any of them requires retraining."""
    data = config.to_dict()
    return {name: data[name] for name in BANK_SETTINGS}


def encode_bank(bank: MemoryBank) -> tuple[MemoryBank, bytes]:
    """Serialise a bank: (the bank with its content version, the safetensors bytes to write)."""
    tensors = {"features": bank.features.float().contiguous().cpu()}
    if bank.projection is not None:
        tensors["projection"] = bank.projection.float().contiguous().cpu()
    metadata = {METADATA_KEY: json.dumps(bank.info.to_dict(), sort_keys=True)}
    data = save_safetensors(tensors, metadata=metadata)
    version = hashlib.sha256(data).hexdigest()[:16]
    return MemoryBank(bank.features, bank.projection, bank.info, version), data


def write_bank(bank: MemoryBank, data: bytes, results_dir: Path) -> None:
    """Write encoded bank bytes atomically, then model.json."""
    write_bytes_atomic(Path(results_dir) / BANK_FILE, data)
    write_model_description(bank, results_dir)


def save_bank(bank: MemoryBank, results_dir: Path) -> MemoryBank:
    """Encode and write the bank; returns it with its content version."""
    saved, data = encode_bank(bank)
    write_bank(saved, data, results_dir)
    return saved


def write_model_description(bank: MemoryBank, results_dir: Path) -> None:
    """The readable copy of the bank's metadata, ``results/model.json``."""
    write_json_atomic(Path(results_dir) / MODEL_FILE, {"model_version": bank.version, **bank.info.to_dict()})


def load_bank(results_dir: Path) -> MemoryBank:
    """Read a saved bank; NotTrainedError when there is none, RetrainRequired when it is damaged."""
    path = Path(results_dir) / BANK_FILE
    if not path.is_file():
        raise NotTrainedError("this project has no memory bank yet: train it first")
    data = path.read_bytes()
    try:
        tensors = load_safetensors(data)
        header_length = int.from_bytes(data[:8], "little")
        header = json.loads(data[8:8 + header_length])
        info = BankInfo.from_dict(json.loads(header["__metadata__"][METADATA_KEY]))
        features = tensors["features"]
    except (SafetensorError, KeyError, ValueError, TypeError) as exc:
        raise RetrainRequired(f"the memory bank file {path.name} is damaged ({exc}); retrain the project") from exc
    if features.ndim != 2 or features.shape[0] != info.num_patches:
        raise RetrainRequired(f"the memory bank file {path.name} does not match its metadata; retrain the project")
    version = hashlib.sha256(data).hexdigest()[:16]
    return MemoryBank(features, tensors.get("projection"), info, version)


def check_compatible(info: BankInfo, config: ProjectConfig) -> None:
    """Refuse a bank built with settings that differ from the project's current ones."""
    current = bank_settings(config)
    changed = [
        f"{name} {info.settings.get(name)!r} -> {current[name]!r}"
        for name in BANK_SETTINGS
        if info.settings.get(name) != current[name]
    ]
    if changed:
        raise RetrainRequired("retrain required: settings changed since training (" + "; ".join(changed) + ")")
