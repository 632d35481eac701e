"""Disk full or read-only while capturing or logging: a clear message, no crash, nothing lost."""

import errno
import os

import numpy as np
import pytest

from dinoad.config import ProjectConfig
from dinoad.demo import generate_scene
from dinoad.errors import StorageError
from dinoad.images import load_image
from dinoad.project import ProjectStore

CAPTURE_PAGE = "pages/capture.py"


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


class FillableDisk:
    """os.fsync that fails while ``full`` is set, as on a disk that fills up and is then cleared."""

    def __init__(self) -> None:
        self.full = True
        self._fsync = os.fsync

    def __call__(self, fd: int) -> None:
        if self.full:
            _disk_full()
        self._fsync(fd)


def test_saving_an_image_on_a_full_disk_raises_a_storage_error_and_leaves_no_file(store, monkeypatch):
    project = store.create("p")
    first = project.add_image("background", generate_scene("background", 0)[0])
    monkeypatch.setattr(os, "fsync", _disk_full)
    with pytest.raises(StorageError, match="No space left on device.*free disk space"):
        project.add_image("background", generate_scene("background", 1)[0])
    monkeypatch.undo()
    assert [p.name for p in project.images_dir("background").iterdir()] == [first.name]


def test_a_project_folder_replaced_by_a_file_is_a_storage_error(store):
    project = store.create("p")
    folder = project.images_dir("test/good")
    folder.rmdir()
    folder.write_text("not a folder")  # unwritable even for root, unlike permission bits
    with pytest.raises(StorageError, match="could not save the image"):
        project.add_image("test/good", generate_scene("good", 0)[0])


def test_capture_on_a_full_disk_keeps_the_frame_for_saving_again(app, projects_root, fake_camera, monkeypatch):
    project = ProjectStore(projects_root).create("cam", ProjectConfig(image_size=128))
    frame = generate_scene("background", 3)[0]
    fake_camera.frames = [frame]
    at = app(page=CAPTURE_PAGE, project="cam")
    disk = FillableDisk()
    monkeypatch.setattr(os, "fsync", disk)
    at.button(key="capture_button").click()
    at = at.run()
    assert not at.exception
    assert any("No space left on device" in w.value for w in at.warning)
    assert project.image_paths("background") == []
    disk.full = False
    at.button(key="save_anyway").click()
    at = at.run()
    [saved] = project.image_paths("background")
    assert np.array_equal(load_image(saved), frame)


def test_inspection_log_on_a_full_disk_reports_and_recovers(tmp_path, monkeypatch):
    from dinoad.inspection_log import InspectionLog
    from dinoad.scoring import ScoredImage, Verdict

    scored = ScoredImage(0.9, np.zeros((8, 8), np.float32), np.zeros((2, 2), np.float32), {"knn": 1.0}, 0.5,
                         Verdict.NOK)
    log = InspectionLog(tmp_path)
    disk = FillableDisk()
    monkeypatch.setattr(os, "fsync", disk)
    assert log.record(scored, "v1", np.zeros((32, 32, 3), np.uint8)) is None
    assert "No space left on device" in log.last_error and "inspection continues" in log.last_error
    disk.full = False
    assert log.record(scored, "v1", np.zeros((32, 32, 3), np.uint8)) is not None
    assert log.last_error is None and len(log.recent()) == 1
