"""Shared fixtures: tiny random DINOv3 / DINOv2 models saved to disk, and synthetic projects.

Models are built from configs and written with ``save_pretrained``; the product then loads them
through its normal path (``load_backbone`` on a local folder). Nothing is downloaded.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from dinoad.backbone import Backbone, load_backbone
from dinoad.config import ProjectConfig
from dinoad.demo import DEFECT_KINDS, generate_scene
from dinoad.project import Project, ProjectStore

TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64}
TEST_IMAGE_SIZE = 128  # smallest allowed resolution: 8x8 patches at patch size 16


def _save_tiny(folder: Path, config) -> Path:
    from transformers import AutoModel

    torch.manual_seed(0)
    AutoModel.from_config(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_dinov3_dir(tmp_path_factory) -> Path:
    """A random DINOv3 ViT (hidden 32, 2 layers, 4 heads, patch 16, 4 registers) in a folder."""
    from transformers import DINOv3ViTConfig

    config = DINOv3ViTConfig(**TINY, patch_size=16, num_register_tokens=4)
    return _save_tiny(tmp_path_factory.mktemp("tiny-dinov3"), config)


@pytest.fixture(scope="session")
def tiny_dinov2_dir(tmp_path_factory) -> Path:
    """A random DINOv2 (patch 14, no registers) in a folder."""
    from transformers import Dinov2Config

    return _save_tiny(tmp_path_factory.mktemp("tiny-dinov2"), Dinov2Config(**TINY, patch_size=14, image_size=140))


@pytest.fixture(scope="session")
def tiny_dinov2_registers_dir(tmp_path_factory) -> Path:
    """A random DINOv2 with 4 registers (patch 14) in a folder."""
    from transformers import Dinov2WithRegistersConfig

    config = Dinov2WithRegistersConfig(**TINY, patch_size=14, image_size=140, num_register_tokens=4)
    return _save_tiny(tmp_path_factory.mktemp("tiny-dinov2-reg"), config)


@pytest.fixture(scope="session")
def tiny_backbone(tiny_dinov3_dir) -> Backbone:
    """The tiny DINOv3 loaded through the product's path, in fp32 for exact comparisons."""
    return load_backbone(str(tiny_dinov3_dir), "float32")


@pytest.fixture
def store(tmp_path) -> ProjectStore:
    return ProjectStore(tmp_path / "projects")


@pytest.fixture
def make_project(store, tiny_dinov3_dir) -> Callable[..., Project]:
    """Create a project on the tiny model filled with synthetic scenes.

    ``make_project(train=5, test_good=6, defects=8, background=5, **config_overrides)``
    """

    def make(name: str = "part", train: int = 5, test_good: int = 6, defects: int = 8, background: int = 0,
             **overrides) -> Project:
        settings = {"model_id": str(tiny_dinov3_dir), "image_size": TEST_IMAGE_SIZE, "dtype": "float32",
                    "shots": max(train, 1), **overrides}
        project = store.create(name, ProjectConfig(**settings))
        for index in range(background):
            project.add_image("background", generate_scene("background", index)[0])
        for index in range(train):
            project.add_image("train/good", generate_scene("good", index)[0])
        for index in range(test_good):
            project.add_image("test/good", generate_scene("good", 100 + index)[0])
        for index in range(defects):
            project.add_image("test/defect", generate_scene(DEFECT_KINDS[index % len(DEFECT_KINDS)], index)[0])
        return project

    return make
