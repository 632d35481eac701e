"""Zip uploads that try to escape, explode or nest; a camera that stops or sends odd frames."""

import io
import zipfile

import numpy as np
import pytest

from dinoad import latest_frame
from dinoad.config import ProjectConfig
from dinoad.demo import generate_scene
from dinoad.errors import ProjectError
from dinoad.images import encode_png
from dinoad.project import ProjectStore
from dinoad.zip_import import import_zip

CAPTURE_PAGE = "pages/capture.py"


def _zip(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    buffer.seek(0)
    return buffer


GOOD_PNG = encode_png(generate_scene("good", 0)[0])


@pytest.mark.parametrize("name", ["../escaped.png", "good/../../escaped.png", "/tmp/escaped.png", "C:/escaped.png"])
def test_zip_slip_is_refused_before_anything_is_written(store, tmp_path, name):
    project = store.create("p")
    with pytest.raises(ProjectError, match="unsafe path"):
        import_zip(project, _zip({"good/fine.png": GOOD_PNG, name: GOOD_PNG}))
    assert sum(project.counts().values()) == 0
    assert not list(tmp_path.rglob("escaped.png"))


def test_zip_bomb_is_refused(store):
    project = store.create("p")
    with pytest.raises(ProjectError, match="zip bomb"):
        import_zip(project, _zip({"good/huge.png": b"\0" * (20 * 1024 * 1024)}))
    assert sum(project.counts().values()) == 0


def test_nested_zip_is_reported_and_the_rest_imported(store):
    project = store.create("p")
    inner = _zip({"good/inner.png": GOOD_PNG}).getvalue()
    report = import_zip(project, _zip({"good/a.png": GOOD_PNG, "good/more.zip": inner, "notes.txt": b"hi"}))
    assert len(report.added) == 1
    reasons = dict(report.rejected)
    assert "zip inside the zip" in reasons["good/more.zip"]
    assert "not an image file" in reasons["notes.txt"]


def test_camera_that_stopped_mid_capture_gives_a_clear_message(app, projects_root, fake_camera, monkeypatch):
    project = ProjectStore(projects_root).create("cam", ProjectConfig(image_size=128))
    fake_camera.frames = [generate_scene("background", 0)[0]]
    at = app(page=CAPTURE_PAGE, project="cam")
    monkeypatch.setattr(latest_frame.Frame, "age", lambda self, now=None: 3600.0)  # last frame an hour ago
    fake_camera.frames = []
    at.button(key="capture_button").click()
    at = at.run()
    assert not at.exception
    assert "press START" in at.warning[0].value
    assert project.counts()["background"] == 0


def test_camera_frame_too_small_is_refused_with_a_reason(app, projects_root, fake_camera):
    project = ProjectStore(projects_root).create("cam", ProjectConfig(image_size=128))
    fake_camera.frames = [np.full((8, 8, 3), 120, np.uint8)]
    at = app(page=CAPTURE_PAGE, project="cam")
    at.button(key="capture_button").click()
    at = at.run()
    assert not at.exception
    assert any("cannot be used" in e.value and "too small" in e.value for e in at.error)
    assert project.counts()["background"] == 0
