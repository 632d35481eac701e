import pytest

from dinoad.pipeline import train
from dinoad.project_status import project_status


def test_new_project_asks_for_good_images(store):
    project = store.create("fresh")
    status = project_status(project)
    assert not status.trained and status.model_version is None
    assert status.next_step() == ("capture good images of the part first", "capture")


def test_untrained_project_with_images_asks_for_training(make_project):
    status = project_status(make_project(train=2, test_good=0, defects=0))
    assert status.counts["train/good"] == 2
    assert status.next_step()[1] == "train"


def test_trained_project_reports_version_and_retrain_after_a_bank_setting_changes(make_project, tiny_backbone):
    project = make_project(train=3, test_good=2, defects=2)
    result = train(project, backbone=tiny_backbone)
    status = project_status(project)
    assert status.trained and status.model_version == result.bank.version
    assert status.image_auroc == pytest.approx(result.evaluation.image_auroc)
    assert status.threshold is not None
    assert not status.retrain_required and status.next_step() is None

    project.save_config(project.load_config().replace(knn_k=3))  # not a bank setting
    assert not project_status(project).retrain_required
    project.save_config(project.load_config().replace(metric="euclidean"))
    changed = project_status(project)
    assert changed.retrain_required
    assert changed.retrain_reasons == ["metric: 'cosine' -> 'euclidean'"]
    assert changed.next_step()[1] == "train"


def test_unreadable_config_is_reported_not_raised(store):
    project = store.create("broken")
    project.config_path.write_text("{not json")
    status = project_status(project)
    assert status.config is None and "not valid JSON" in status.error
    assert status.next_step()[1] == "projects"
