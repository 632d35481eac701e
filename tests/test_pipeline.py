import numpy as np
import pytest
import torch

from dinoad.bank import BANK_FILE, load_bank
from dinoad.demo import generate_scene
from dinoad.errors import DinoadError, NotTrainedError, ProjectError, RetrainRequired
from dinoad.pipeline import Inspector, build_memory_bank, train
from dinoad.preprocess import preprocess
from dinoad.projection import project as apply_projection
from dinoad.scoring import ScoredImage, Verdict


def test_train_builds_a_bank_from_every_good_image_and_scores_the_tests(make_project, tiny_backbone):
    project = make_project(train=4, test_good=3, defects=4)
    messages = []
    result = train(project, backbone=tiny_backbone, progress=lambda done, total, msg: messages.append(msg))
    info = result.bank.info
    assert (info.num_train_images, info.patch_grid, info.num_patches) == (4, (8, 8), 4 * 64)
    assert (project.results_dir / BANK_FILE).is_file()
    assert len(result.evaluation.good_scores) == 3 and len(result.evaluation.defect_scores) == 4
    assert 0.0 <= result.evaluation.image_auroc <= 1.0
    assert "features 4/4" in messages and "scoring test images 7/7" in messages


def test_bank_holds_exactly_the_patch_tokens_of_the_training_images(make_project, tiny_backbone):
    project = make_project(train=2, test_good=0, defects=0)
    bank = build_memory_bank(tiny_backbone, project.image_paths("train/good"), project.load_config())
    images = [generate_scene("good", index)[0] for index in range(2)]
    expected = tiny_backbone.patch_features(preprocess(images, 128)).reshape(-1, 32)
    assert torch.allclose(bank.features, expected, atol=1e-5)


def test_a_training_image_scores_zero_and_a_defect_scores_higher(make_project, tiny_backbone):
    project = make_project(train=3, test_good=0, defects=0)
    train(project, backbone=tiny_backbone)
    inspector = Inspector.for_project(project, backbone=tiny_backbone)
    on_training_image = inspector.score(generate_scene("good", 0)[0])
    assert isinstance(on_training_image, ScoredImage)
    assert on_training_image.score == pytest.approx(0.0, abs=1e-4)
    assert on_training_image.anomaly_map.shape == (128, 128) and on_training_image.patch_scores.shape == (8, 8)
    assert set(on_training_image.timings_ms) == {"preprocess", "features", "knn", "map"}
    assert on_training_image.verdict is None  # no threshold yet
    defect = inspector.score(generate_scene("spot", 0)[0])
    assert defect.score > 0.05


def test_bgr_frames_are_scored_like_the_rgb_image(make_project, tiny_backbone):
    project = make_project(train=2, test_good=0, defects=0)
    train(project, backbone=tiny_backbone)
    inspector = Inspector.for_project(project, backbone=tiny_backbone)
    rgb = generate_scene("crack", 3)[0]
    assert inspector.score(rgb[:, :, ::-1].copy(), "BGR").score == pytest.approx(inspector.score(rgb).score)


def test_threshold_and_background_interval_give_verdicts(make_project, tiny_backbone):
    project = make_project(train=3, test_good=0, defects=0)
    train(project, backbone=tiny_backbone)
    project.save_config(project.load_config().replace(threshold=0.05, raw_ad_score_interval=[-1.0, -0.5]))
    inspector = Inspector.for_project(project, backbone=tiny_backbone)
    assert inspector.score(generate_scene("good", 0)[0]).verdict is Verdict.OK
    assert inspector.score(generate_scene("spot", 0)[0]).verdict is Verdict.NOK


@pytest.mark.parametrize(
    ("settings", "patches"),
    [
        ({"augment_rotations": "90"}, 2 * 4 * 64),
        ({"augment_rotations": "45"}, 2 * 8 * 64),
        ({"coreset_method": "greedy", "coreset_ratio": 0.25}, 32),
        ({"coreset_method": "importance", "coreset_ratio": 0.5}, 64),
        ({"coreset_method": "random", "coreset_ratio": 0.1}, 13),
    ],
)
def test_augmentation_and_coreset_set_the_bank_size(make_project, tiny_backbone, settings, patches):
    project = make_project(train=2, test_good=1, defects=1, **settings)
    result = train(project, backbone=tiny_backbone)
    assert result.bank.info.num_patches == patches


def test_projection_is_stored_and_applied_to_queries_identically(make_project, tiny_backbone):
    project = make_project(train=2, test_good=0, defects=0, feature_dim=8, projection="gaussian", metric="euclidean")
    train(project, backbone=tiny_backbone)
    bank = load_bank(project.results_dir)
    assert bank.features.shape == (128, 8) and bank.projection.shape == (32, 8)
    image = generate_scene("good", 1)[0]
    queries = apply_projection(tiny_backbone.patch_features(preprocess([image], 128)).reshape(-1, 32), bank.projection)
    assert torch.allclose(queries, bank.features[64:], atol=1e-4)
    assert Inspector.for_project(project, backbone=tiny_backbone).score(image).score == pytest.approx(0.0, abs=1e-4)


def test_dinov2_with_patch_14_trains_at_a_multiple_of_14(store, tiny_dinov2_registers_dir):
    from dinoad.config import ProjectConfig

    project = store.create("v2", ProjectConfig(model_id=str(tiny_dinov2_registers_dir), image_size=140,
                                                dtype="float32", shots=2))
    for index in range(2):
        project.add_image("train/good", generate_scene("good", index)[0])
    result = train(project)
    assert result.bank.info.patch_grid == (10, 10) and result.bank.info.num_register_tokens == 4
    project.save_config(project.load_config().replace(image_size=128))
    with pytest.raises(RetrainRequired):
        Inspector.for_project(project)


def test_resolution_not_fitting_the_patch_is_refused_before_any_work(make_project, tiny_backbone):
    project = make_project(train=1, test_good=0, defects=0, image_size=200)
    with pytest.raises(DinoadError, match="Nearest valid sizes: 192 or 208"):
        train(project)
    assert not project.is_trained


def test_untrained_empty_and_changed_projects_give_clear_errors(make_project, tiny_backbone):
    empty = make_project(name="empty", train=0, test_good=0, defects=0)
    with pytest.raises(ProjectError, match="no good training images"):
        train(empty, backbone=tiny_backbone)
    with pytest.raises(NotTrainedError, match="train it first"):
        Inspector.for_project(empty, backbone=tiny_backbone)
    project = make_project(name="changed", train=1, test_good=0, defects=0)
    train(project, backbone=tiny_backbone)
    project.save_config(project.load_config().replace(image_size=256))
    with pytest.raises(RetrainRequired, match="image_size 128 -> 256"):
        Inspector.for_project(project, backbone=tiny_backbone)


def test_failed_training_keeps_the_previous_bank(make_project, tiny_backbone, monkeypatch):
    project = make_project(train=2, test_good=0, defects=0)
    before = train(project, backbone=tiny_backbone).bank.version
    project.add_image("train/good", generate_scene("good", 7)[0])

    def crash(*args, **kwargs):
        raise RuntimeError("killed mid-training")

    monkeypatch.setattr(tiny_backbone, "patch_features", crash)
    with pytest.raises(RuntimeError):
        train(project, backbone=tiny_backbone)
    monkeypatch.undo()
    assert load_bank(project.results_dir).version == before
    assert Inspector.for_project(project, backbone=tiny_backbone).score(np.zeros((64, 64, 3), np.uint8)).score >= 0


def test_a_failure_after_the_bank_is_built_still_writes_nothing(make_project, tiny_backbone, monkeypatch):
    from dinoad import pipeline

    project = make_project(train=2, test_good=2, defects=2)
    before = train(project, backbone=tiny_backbone, export_png=False)
    config_before = project.config_path.read_text()
    project.add_image("train/good", generate_scene("good", 7)[0])

    def crash(*args, **kwargs):
        raise RuntimeError("killed during calibration")

    monkeypatch.setattr(pipeline, "build_validation", crash)
    with pytest.raises(RuntimeError):
        train(project, backbone=tiny_backbone)
    assert load_bank(project.results_dir).version == before.bank.version
    assert project.config_path.read_text() == config_before


def test_a_second_training_of_the_same_project_is_refused(make_project, tiny_backbone):
    from dinoad.locks import ProjectBusy, project_lock

    project = make_project(train=1, test_good=0, defects=0)
    with project_lock(project.results_dir, "training"), pytest.raises(ProjectBusy, match="busy with training"):
        train(project, backbone=tiny_backbone)
    train(project, backbone=tiny_backbone, export_png=False)
    assert project.is_trained
