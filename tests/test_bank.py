import json

import pytest
import torch

from dinoad.bank import (
    BANK_FILE,
    MODEL_FILE,
    BankInfo,
    MemoryBank,
    bank_settings,
    check_compatible,
    load_bank,
    save_bank,
)
from dinoad.config import ProjectConfig
from dinoad.errors import NotTrainedError, RetrainRequired


def _bank(config: ProjectConfig, projection: bool = False) -> MemoryBank:
    features = torch.randn(50, 8 if projection else 32)
    info = BankInfo(
        model_id=config.model_id, model_revision=None, model_type="dinov3_vit", patch_size=16,
        num_register_tokens=4, hidden_size=32, image_size=config.image_size, patch_grid=(8, 8),
        feature_dim=features.shape[1], settings=bank_settings(config), num_train_images=2,
        num_patches_before_coreset=128, num_patches=50,
    )
    return MemoryBank(features, torch.randn(32, 8) if projection else None, info)


def test_round_trip_keeps_features_projection_and_metadata(tmp_path):
    config = ProjectConfig(image_size=128, feature_dim=8)
    saved = save_bank(_bank(config, projection=True), tmp_path)
    loaded = load_bank(tmp_path)
    assert torch.equal(loaded.features, saved.features)
    assert torch.equal(loaded.projection, saved.projection)
    assert loaded.info == saved.info and loaded.version == saved.version and len(saved.version) == 16
    described = json.loads((tmp_path / MODEL_FILE).read_text())
    assert described["model_version"] == saved.version
    assert described["image_size"] == 128 and described["patch_grid"] == [8, 8]
    assert described["dinoad_version"] and described["created_at"]


def test_version_is_a_content_hash(tmp_path):
    config = ProjectConfig()
    first = save_bank(_bank(config), tmp_path / "a").version
    second = save_bank(_bank(config), tmp_path / "b").version
    assert first != second
    assert load_bank(tmp_path / "a").version == first


def test_missing_bank_means_not_trained_and_damaged_bank_means_retrain(tmp_path):
    with pytest.raises(NotTrainedError, match="train it first"):
        load_bank(tmp_path)
    save_bank(_bank(ProjectConfig()), tmp_path)
    data = (tmp_path / BANK_FILE).read_bytes()
    (tmp_path / BANK_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(RetrainRequired, match="damaged"):
        load_bank(tmp_path)
    (tmp_path / BANK_FILE).write_bytes(b"\x00" * 64)
    with pytest.raises(RetrainRequired, match="retrain"):
        load_bank(tmp_path)


@pytest.mark.parametrize(("setting", "value"), [("image_size", 256), ("model_id", "other/model"), ("feature_dim", 64)])
def test_changed_resolution_model_or_feature_dim_requires_retraining(setting, value):
    config = ProjectConfig(image_size=128)
    info = _bank(config).info
    check_compatible(info, config.replace(knn_k=5, sigma=2.0))  # scoring-only settings are fine
    with pytest.raises(RetrainRequired) as error:
        check_compatible(info, config.replace(**{setting: value}))
    assert "retrain required" in str(error.value) and setting in str(error.value)
