import pytest

from dinoad.bank import load_bank
from dinoad.demo import generate_scene
from dinoad.errors import DinoadError
from dinoad.feedback import add_defect_feedback, add_good_feedback, feedback_history, undo_feedback
from dinoad.pipeline import Inspector, train


def test_good_feedback_grows_the_bank_and_undo_restores_it(make_project, tiny_backbone):
    project = make_project(train=2, test_good=0, defects=0)
    train(project, backbone=tiny_backbone)
    inspector = Inspector.for_project(project, backbone=tiny_backbone)
    original = inspector.bank
    frame = generate_scene("spot", 5)[0]
    before = inspector.score(frame).score

    updated = add_good_feedback(project, original, tiny_backbone, inspector.config, frame)
    assert updated.version != original.version
    assert updated.info.num_patches == original.info.num_patches + 64
    assert load_bank(project.results_dir).version == updated.version
    assert project.counts()["train/good"] == 3
    after = Inspector(tiny_backbone, updated, inspector.config).score(frame).score
    assert before > 0.05 and after == pytest.approx(0.0, abs=1e-4)  # the frame is now in the bank
    assert len(feedback_history(project)) == 1

    restored = undo_feedback(project)
    assert restored.version == original.version
    assert load_bank(project.results_dir).version == original.version
    assert project.counts()["train/good"] == 2
    assert feedback_history(project) == []
    with pytest.raises(DinoadError, match="no feedback to undo"):
        undo_feedback(project)


def test_retraining_starts_a_new_lineage_without_undo(make_project, tiny_backbone):
    project = make_project(train=2, test_good=0, defects=0)
    train(project, backbone=tiny_backbone)
    inspector = Inspector.for_project(project, backbone=tiny_backbone)
    add_good_feedback(project, inspector.bank, tiny_backbone, inspector.config, generate_scene("good", 9)[0])
    project.add_image("train/good", generate_scene("good", 10)[0])
    train(project, backbone=tiny_backbone, export_png=False)
    assert feedback_history(project) == []
    assert not (project.results_dir / "bank_history").exists()
    with pytest.raises(DinoadError, match="no feedback to undo"):
        undo_feedback(project)


def test_feedback_on_a_stale_bank_is_refused(make_project, tiny_backbone):
    project = make_project(train=2, test_good=0, defects=0)
    train(project, backbone=tiny_backbone, export_png=False)
    stale = Inspector.for_project(project, backbone=tiny_backbone)
    project.add_image("train/good", generate_scene("good", 10)[0])
    train(project, backbone=tiny_backbone, export_png=False)
    with pytest.raises(DinoadError, match="changed since this frame was scored"):
        add_good_feedback(project, stale.bank, tiny_backbone, stale.config, generate_scene("good", 9)[0])
    assert project.counts()["train/good"] == 3


def test_feedback_respects_the_projection_and_coreset_settings(make_project, tiny_backbone):
    project = make_project(train=2, test_good=0, defects=0, feature_dim=8, coreset_method="random",
                           coreset_ratio=0.5)
    train(project, backbone=tiny_backbone)
    inspector = Inspector.for_project(project, backbone=tiny_backbone)
    updated = add_good_feedback(project, inspector.bank, tiny_backbone, inspector.config,
                                generate_scene("good", 9)[0])
    assert updated.features.shape == (inspector.bank.info.num_patches + 32, 8)
    assert Inspector.for_project(project, backbone=tiny_backbone).bank.version == updated.version


def test_defect_feedback_goes_to_test_defect(make_project):
    project = make_project(train=1, test_good=0, defects=0)
    add_defect_feedback(project, generate_scene("crack", 1)[0])
    assert project.counts()["test/defect"] == 1


def test_feedback_needs_a_trained_project(make_project, tiny_backbone):
    project = make_project(train=1, test_good=0, defects=0)
    train(project, backbone=tiny_backbone)
    inspector = Inspector.for_project(project, backbone=tiny_backbone)
    (project.results_dir / "memory_bank.safetensors").unlink()
    with pytest.raises(DinoadError, match="train the project"):
        add_good_feedback(project, inspector.bank, tiny_backbone, inspector.config, generate_scene("good", 1)[0])


def test_no_part_detection_survives_good_feedback_and_undo(make_project, tiny_backbone):
    project = make_project(train=3, test_good=2, defects=2, background=4)
    train(project, backbone=tiny_backbone, export_png=False)
    empty_scene = generate_scene("background", 20)[0]
    inspector = Inspector.for_project(project, backbone=tiny_backbone)
    assert inspector.background is not None and inspector.score(empty_scene).verdict == "NO PART"

    add_good_feedback(project, inspector.bank, tiny_backbone, inspector.config, generate_scene("spot", 5)[0])
    reloaded = Inspector.for_project(project, backbone=tiny_backbone)
    assert reloaded.background is not None and reloaded.score(empty_scene).verdict == "NO PART"
    undo_feedback(project)
    assert Inspector.for_project(project, backbone=tiny_backbone).background is not None
