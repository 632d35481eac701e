import io
import zipfile

from dinoad.config import ProjectConfig
from dinoad.demo import generate_scene
from dinoad.images import encode_png
from dinoad.project import ProjectStore

PAGE = "pages/projects.py"


def create_through_form(at, name: str, model_id: str, image_size: int = 128):
    at.text_input(key="new_name").input(name)
    at.text_input(key="new_model_id").input(model_id)
    at.number_input(key="new_image_size").set_value(image_size)
    at.selectbox(key="new_metric").set_value("euclidean")
    at.number_input(key="new_shots").set_value(3)
    at.button(key="FormSubmitter:create_project-Create project").click()
    return at.run()


def test_empty_folder_invites_creating_a_project(app, projects_root):
    at = app()
    assert at.title[0].value == "Projects"
    assert "No projects yet" in at.info[0].value
    assert at.text_input(key="new_name") is not None


def test_create_project_with_form_settings_selects_it(app, projects_root, tiny_dinov3_dir):
    at = create_through_form(app(), "bracket", str(tiny_dinov3_dir))
    assert not at.exception
    config = ProjectStore(projects_root).open("bracket").load_config()
    assert (config.image_size, config.metric, config.shots) == (128, "euclidean", 3)
    assert config.model_id == str(tiny_dinov3_dir)
    assert at.session_state["project"] == "bracket"
    assert at.query_params["project"] == "bracket"
    assert any("Created project 'bracket'" in s.value for s in at.success)
    assert at.dataframe[0].value["project"].tolist() == ["bracket"]
    assert "capture good images" in at.info[0].value  # next step, with a button to go there
    assert any(b.label == "Go to Capture" for b in at.button)


def test_resolution_that_does_not_fit_the_patch_size_is_refused(app, projects_root, tiny_dinov3_dir):
    at = create_through_form(app(), "odd", str(tiny_dinov3_dir), image_size=130)
    assert "multiple of the patch size 16" in at.error[0].value
    assert "128 or 144" in at.error[0].value
    assert ProjectStore(projects_root).names() == []


def test_bad_name_is_refused_with_the_rule(app, projects_root, tiny_dinov3_dir):
    at = create_through_form(app(), "../escape", str(tiny_dinov3_dir))
    assert "invalid project name" in at.error[0].value
    assert not (projects_root.parent / "escape").exists()


def test_url_parameter_selects_the_project_and_settings_edit_marks_retrain(app, projects_root, make_project,
                                                                         tiny_backbone):
    from dinoad.pipeline import train

    project = make_project("widget", train=2, test_good=1, defects=1)
    train(project, backbone=tiny_backbone)
    at = app(project="widget")
    assert at.session_state["project"] == "widget"
    table = at.dataframe[0].value
    assert table.loc[0, "status"] == "trained" and table.loc[0, "train good"] == 2
    assert table.loc[0, "model version"]

    at.selectbox(key="edit_metric").set_value("euclidean")
    at.button(key="FormSubmitter:edit_settings-Save settings").click()
    at.run()
    assert project.load_config().metric == "euclidean"
    assert at.dataframe[0].value.loc[0, "status"] == "retrain required"
    assert "settings changed since training" in at.info[0].value


def test_rename_and_delete_with_typed_confirmation(app, projects_root):
    store = ProjectStore(projects_root)
    store.create("alpha", ProjectConfig(image_size=128))
    at = app(project="alpha")
    at.text_input(key="rename_to").input("beta")
    at.button(key="FormSubmitter:rename_project-Rename").click()
    at.run()
    assert store.names() == ["beta"] and at.session_state["project"] == "beta"

    at.text_input(key="delete_confirm").input("wrong")
    at.button(key="FormSubmitter:delete_project-Delete project").click()
    at.run()
    assert "exactly to confirm" in at.error[0].value and store.names() == ["beta"]
    at.text_input(key="delete_confirm").input("beta")
    at.button(key="FormSubmitter:delete_project-Delete project").click()
    at.run()
    assert store.names() == [] and "project" not in at.session_state


def test_zip_upload_imports_plain_folders(app, projects_root):
    store = ProjectStore(projects_root)
    project = store.create("zips", ProjectConfig(image_size=128, shots=2))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("background/a.png", encode_png(generate_scene("background", 0)[0]))
        archive.writestr("defect/b.png", encode_png(generate_scene("spot", 0)[0]))
        archive.writestr("elsewhere/c.png", encode_png(generate_scene("good", 0)[0]))
    at = app(project="zips")
    at.file_uploader(key="import_zip").upload("parts.zip", buffer.getvalue(), "application/zip")
    at.run()
    at.button(key="import_button").click()
    at.run()
    assert project.counts()["background"] == 1 and project.counts()["test/defect"] == 1
    assert any("Imported 2 images" in s.value for s in at.success)
    assert any("elsewhere/c.png" in w.value for w in at.warning)


def test_demo_project_from_an_empty_folder_is_created_and_selected(app, projects_root, tiny_dinov3_dir):
    from dinoad.config import DEFAULT_MODEL_ID
    from dinoad.demo_project import DEMO_COUNTS

    at = app()
    assert at.text_input(key="demo_model_id").value == DEFAULT_MODEL_ID  # the project default
    at.text_input(key="demo_model_id").input(str(tiny_dinov3_dir))
    at.number_input(key="demo_image_size").set_value(128)
    at.button(key="FormSubmitter:create_demo-Create demo project").click()
    at.run()
    assert not at.exception and not at.error
    project = ProjectStore(projects_root).open("demo")
    config = project.load_config()
    assert (config.model_id, config.image_size) == (str(tiny_dinov3_dir), 128)
    assert sum(project.counts().values()) == sum(DEMO_COUNTS.values())
    assert (project.path / "demo" / "clip.y4m").is_file()
    assert at.session_state["project"] == "demo"
    assert any("Created demo project 'demo'" in s.value for s in at.success)
    assert "train the project" in at.info[0].value  # the next step, with its button


def test_demo_project_with_a_resolution_the_model_cannot_use_is_refused(app, projects_root, tiny_dinov3_dir):
    at = app()
    at.text_input(key="demo_model_id").input(str(tiny_dinov3_dir))
    at.number_input(key="demo_image_size").set_value(140)
    at.button(key="FormSubmitter:create_demo-Create demo project").click()
    at.run()
    assert "multiple of the patch size 16" in at.error[0].value
    assert ProjectStore(projects_root).names() == []


def doctor(at, model_id: str):
    at.text_input(key="doctor_model_id").input(model_id)
    at.number_input(key="doctor_image_size").set_value(128)
    at.button(key="FormSubmitter:doctor-Check model access").click()
    return at.run()


def page_text(at) -> str:
    return " ".join(str(e.value) for kind in ("markdown", "error", "success", "info", "caption")
                    for e in at.get(kind))


SECRET = "hf_pageNeverShowsThisToken123"


def test_model_check_passes_for_a_local_model_folder_and_never_shows_the_token(app, projects_root,
                                                                            tiny_dinov3_dir, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", SECRET)
    at = doctor(app(), str(tiny_dinov3_dir))
    report = at.session_state["doctor_report"]
    assert report.ok and report.forward_ms > 0
    assert any("Ready: one forward pass took" in s.value for s in at.success)
    assert "local model folder" in page_text(at)
    assert SECRET not in page_text(at)


def test_model_check_explains_a_missing_folder_and_a_blocked_hub(app, projects_root, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", SECRET)
    at = doctor(app(), str(tmp_path / "no-such-model"))
    assert any("cannot be used yet" in e.value for e in at.error)
    assert any("load" in e.value for e in at.error)

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the hub is out of reach: nothing is contacted
    at = doctor(at, "facebook/dinov3-vitb16-pretrain-lvd1689m")
    text = " ".join(e.value for e in at.error)
    assert "offline mode is on" in text and "hf download facebook/dinov3-vitb16-pretrain-lvd1689m" in text
    assert SECRET not in page_text(at)
