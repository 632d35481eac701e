from dinoad.config import ProjectConfig
from dinoad.demo import generate_scene
from dinoad.project import ProjectStore
from dinoad.project_status import project_status

PAGE = "pages/train.py"


def filled_project(projects_root, model_dir, name="trainee", **settings):
    project = ProjectStore(projects_root).create(
        name, ProjectConfig(model_id=str(model_dir), image_size=128, dtype="float32", shots=3, **settings))
    for index in range(3):
        project.add_image("train/good", generate_scene("good", index)[0])
    for index in range(2):
        project.add_image("test/good", generate_scene("good", 50 + index)[0])
        project.add_image("test/defect", generate_scene("scratch", index)[0])
    return project


def test_project_without_images_is_sent_to_capture(app, projects_root):
    ProjectStore(projects_root).create("empty", ProjectConfig(image_size=128))
    at = app(page=PAGE, project="empty")
    assert "capture good images" in at.info[0].value
    at.button(key="train_need_images").click()
    at.run()
    assert at.title[0].value == "Capture"


def test_train_shows_stages_and_result_then_offers_validation(app, projects_root, tiny_dinov3_dir):
    project = filled_project(projects_root, tiny_dinov3_dir)
    at = app(page=PAGE, project="trainee")
    assert at.button(key="train_button").label == "Train"
    settings = at.dataframe[0].value
    assert settings.set_index("setting").loc["Image size (pixels)", "value"] == "128"
    at.button(key="train_button").click()
    at.run()
    assert not at.exception and not at.error
    stages = " ".join(m.value for m in at.expander[0].markdown)
    assert "features 3/3" in stages and "scoring test images 4/4" in stages
    status = project_status(project)
    assert status.trained and status.model_version
    assert any(status.model_version in s.value for s in at.success)
    assert at.metric[0].label == "Image AUROC"
    assert any(b.label == "Go to Validation" for b in at.button)
    assert at.button(key="train_button").label == "Retrain"


def test_retrain_after_a_settings_change_clears_the_badge(app, projects_root, tiny_dinov3_dir, tiny_backbone):
    from dinoad.pipeline import train

    project = filled_project(projects_root, tiny_dinov3_dir)
    train(project, backbone=tiny_backbone)
    old_version = project_status(project).model_version
    project.save_config(project.load_config().replace(feature_dim=16))
    at = app(page=PAGE, project="trainee")
    assert any("feature_dim" in c.value for c in at.caption)
    at.button(key="train_button").click()
    at.run()
    status = project_status(project)
    assert not status.retrain_required and status.model_version != old_version


def test_engine_errors_are_shown_as_messages_with_the_fix(app, projects_root, tmp_path):
    filled_project(projects_root, tmp_path / "no-such-model")
    at = app(page=PAGE, project="trainee")
    at.button(key="train_button").click()
    at.run()
    assert at.status[0].label == "Training failed"
    assert "does not exist" in at.error[0].value and "config.json" in at.error[0].value
    assert not at.exception
