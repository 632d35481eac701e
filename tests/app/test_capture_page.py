from pathlib import Path

import cv2
import numpy as np
from streamlit.testing.v1 import AppTest

from dinoad.capture_steps import BACKGROUND_TARGET, DEFECT_TARGET
from dinoad.config import ProjectConfig
from dinoad.demo import generate_scene
from dinoad.images import encode_png, load_image
from dinoad.project import ProjectStore

PAGE = "pages/capture.py"
APP_FILE = Path(__file__).resolve().parents[2] / "streamlit_app.py"


def new_project(projects_root, name="cam", **settings):
    return ProjectStore(projects_root).create(name, ProjectConfig(image_size=128, **settings))


def capture(at):
    at.button(key="capture_button").click()
    return at.run()


def test_without_a_project_the_page_points_to_projects(app):
    at = app(page=PAGE)
    assert "No project is selected" in at.info[0].value
    at.button(key="need_project").click()
    at.run()
    assert at.title[0].value == "Projects"


def test_camera_is_configured_without_outside_servers(app, projects_root, fake_camera):
    new_project(projects_root)
    app(page=PAGE, project="cam")
    call = fake_camera.calls[-1]
    assert call["rtc_configuration"] == {"iceServers": []}
    assert call["media_stream_constraints"]["audio"] is False
    assert call["video_frame_callback"] is not None


def test_ice_servers_come_from_the_environment(app, projects_root, fake_camera, monkeypatch):
    monkeypatch.setenv("DINOAD_ICE_SERVERS", '[{"urls": "stun:stun.example.org:3478"}]')
    new_project(projects_root)
    app(page=PAGE, project="cam")
    assert fake_camera.calls[-1]["rtc_configuration"] == {"iceServers": [{"urls": ["stun:stun.example.org:3478"]}]}


def test_ice_servers_come_from_secrets(projects_root, fake_camera):
    new_project(projects_root)
    at = AppTest.from_file(str(APP_FILE), default_timeout=60)
    at.secrets["ice_servers"] = [{"urls": ["turn:turn.example.org"], "username": "u", "credential": "p"}]
    at.query_params["project"] = "cam"
    at.run()
    at.switch_page(PAGE).run()
    assert fake_camera.calls[-1]["rtc_configuration"] == {
        "iceServers": [{"urls": ["turn:turn.example.org"], "username": "u", "credential": "p"}]}


def test_first_step_is_background_and_capture_saves_the_newest_frame_at_native_size(app, projects_root,
                                                                                   fake_camera):
    project = new_project(projects_root)
    older, newest = generate_scene("background", 0)[0], generate_scene("background", 1)[0]
    big = cv2.resize(newest, (1280, 960), interpolation=cv2.INTER_LINEAR)
    fake_camera.frames = [older, big]
    at = app(page=PAGE, project="cam")
    assert at.radio(key="capture_step").value == "background"
    assert at.progress[0].proto.text == f"Background: 0 / {BACKGROUND_TARGET}"
    at = capture(at)
    saved = project.image_paths("background")
    assert len(saved) == 1
    image = load_image(saved[0])
    assert image.shape == (960, 1280, 3)
    assert np.abs(image.astype(int) - big.astype(int)).max() == 0  # PNG is lossless
    assert at.progress[0].proto.text == f"Background: 1 / {BACKGROUND_TARGET}"
    assert any("Saved 001.png (1280x960) to background" in s.value for s in at.success)


def test_capture_without_camera_frames_says_to_start_the_camera(app, projects_root, fake_camera):
    project = new_project(projects_root)
    at = capture(app(page=PAGE, project="cam"))
    assert "press START" in at.warning[0].value
    assert project.counts()["background"] == 0


def test_near_duplicate_waits_for_a_decision(app, projects_root, fake_camera):
    project = new_project(projects_root)
    fake_camera.frames = [generate_scene("spot", 0)[0]]
    at = app(page=PAGE, project="cam")
    at.radio(key="capture_step").set_value("defect")
    at = capture(at.run())
    assert project.counts()["test/defect"] == 1
    assert at.progress[0].proto.text == f"Defects: 1 / {DEFECT_TARGET}"

    at = capture(at)  # the same frame again
    assert any("nearly identical" in w.value for w in at.warning)
    assert project.counts()["test/defect"] == 1
    at.button(key="discard_capture").click()
    at.run()
    assert project.counts()["test/defect"] == 1 and not at.warning

    at = capture(at)
    at.button(key="save_anyway").click()
    at.run()
    assert project.counts()["test/defect"] == 2


def test_blurry_frame_is_flagged_before_saving(app, projects_root, fake_camera):
    project = new_project(projects_root)
    fake_camera.frames = [cv2.GaussianBlur(generate_scene("crack", 0)[0], (0, 0), 4)]
    at = app(page=PAGE, project="cam")
    at.radio(key="capture_step").set_value("defect")
    at = capture(at.run())
    assert any("blurry" in w.value for w in at.warning)
    assert project.counts()["test/defect"] == 0


def test_upload_adds_images_and_reports_bad_files(app, projects_root):
    project = new_project(projects_root)
    at = app(page=PAGE, project="cam")
    at.radio(key="capture_step").set_value("defect")
    at.run()
    uploader = at.file_uploader(key="upload_defect_0")
    uploader.upload("a.png", encode_png(generate_scene("spot", 1)[0]), "image/png")
    uploader.upload("b.png", b"not an image", "image/png")
    at.run()
    at.button(key="add_uploads_defect").click()
    at.run()
    assert project.counts()["test/defect"] == 1
    assert any("Added 1 of 2" in s.value for s in at.success)
    assert any("b.png" in w.value for w in at.warning)


def test_gallery_delete_removes_the_image(app, projects_root):
    project = new_project(projects_root)
    for index in range(2):
        project.add_image("background", generate_scene("background", index)[0])
    at = app(page=PAGE, project="cam")
    at.button(key="delete_background_001.png").click()
    at.run()
    assert [p.name for p in project.image_paths("background")] == ["002.png"]
    assert at.progress[0].proto.text == f"Background: 1 / {BACKGROUND_TARGET}"


def test_good_captures_fill_the_shots_then_test_good(app, projects_root, fake_camera):
    project = new_project(projects_root, shots=2)
    at = app(page=PAGE, project="cam")
    at.radio(key="capture_step").set_value("good")
    at.run()
    assert at.progress[0].proto.text == "Good parts: 0 / 7"  # 2 shots + 5 test images
    for index in range(3):
        fake_camera.frames = [generate_scene("good", index)[0]]
        at = capture(at)
        assert at.radio(key="capture_step").value == "good"  # the step stays while counts change
    assert project.counts()["train/good"] == 2 and project.counts()["test/good"] == 1
    assert at.progress[0].proto.text == "Good parts: 3 / 7"
    assert any("to test/good" in s.value for s in at.success)
