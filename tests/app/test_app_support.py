import app_support
from dinoad.pipeline import train


def test_cached_inspector_follows_the_bank_version(make_project, tiny_backbone):
    project = make_project(train=2, test_good=1, defects=1)
    train(project, backbone=tiny_backbone)
    first = app_support.inspector_for(project)
    assert app_support.inspector_for(project) is first  # cached while nothing changed
    assert first.backbone is app_support.cached_backbone(project.load_config().model_id, "float32")

    project.save_config(project.load_config().replace(feature_dim=16))
    train(project, backbone=tiny_backbone)  # retraining writes a new bank version
    second = app_support.inspector_for(project)
    assert second is not first
    assert second.model_version != first.model_version
    assert second.bank.features.shape[1] == 16


def test_saving_a_threshold_gives_an_inspector_with_it(make_project, tiny_backbone):
    project = make_project(train=2, test_good=1, defects=1)
    train(project, backbone=tiny_backbone)
    before = app_support.inspector_for(project)
    project.save_config(project.load_config().replace(threshold=123.0))
    after = app_support.inspector_for(project)
    assert after.config.threshold == 123.0 and before.config.threshold != 123.0
    assert after.backbone is before.backbone  # the model itself is loaded once
