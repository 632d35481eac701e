"""Default configuration opens no outbound connection: the live pipeline, training and the CLI run
with every non-loopback connection and name lookup made to fail loudly (and recorded)."""

import socket
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import network_guard


@pytest.fixture
def no_outbound(monkeypatch):
    """Guard the process and switch off the tests' offline flags, as on a user's machine."""
    import huggingface_hub.constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    attempts: list[str] = []
    originals = network_guard.install(attempts)
    try:
        yield attempts
    finally:
        network_guard.uninstall(originals)
    assert attempts == [], f"outbound network access: {attempts}"


def test_the_guard_refuses_before_anything_is_sent():
    attempts: list[str] = []
    originals = network_guard.install(attempts)
    try:
        with pytest.raises(network_guard.OutboundConnectionAttempt):
            socket.getaddrinfo("huggingface.co", 443)
        with socket.socket() as sock, pytest.raises(network_guard.OutboundConnectionAttempt):
            sock.connect(("192.0.2.1", 443))  # TEST-NET-1: refused by the guard, never sent
        assert network_guard.is_local("127.0.0.1") and network_guard.is_local("::1")
    finally:
        network_guard.uninstall(originals)
    assert len(attempts) == 2


def test_train_live_log_watch_and_doctor_stay_local(no_outbound, store, tiny_dinov3_dir, tmp_path, capsys):
    from dinoad.cli import main
    from dinoad.demo_project import create_demo_project, demo_clip_frames
    from dinoad.inspection_log import InspectionLog
    from dinoad.live import FrameProcessor
    from dinoad.pipeline import Inspector, train

    project = create_demo_project(store, "Demo", str(tiny_dinov3_dir))
    project.save_config(project.load_config().replace(image_size=128))
    train(project)
    processor = FrameProcessor(Inspector.for_project(project), InspectionLog(project.results_dir))
    for frame in demo_clip_frames()[:10]:
        processor.process(frame)
    projects = str(store.root)
    assert main(["watch", "Demo", "--projects", projects, "--video", str(project.path / "demo" / "clip.mp4"),
                 "--max-frames", "3"]) == 0
    assert main(["doctor", "Demo", "--projects", projects]) == 0
    assert main(["predict", "Demo", "--projects", projects, str(project.image_paths("test/defect")[0])]) == 0
    capsys.readouterr()


def test_every_page_of_the_app_stays_local(no_outbound, app, projects_root, fake_camera, tiny_dinov3_dir):
    from dinoad.demo import generate_scene
    from dinoad.demo_project import create_demo_project
    from dinoad.project import ProjectStore

    project = create_demo_project(ProjectStore(projects_root), "Demo", str(tiny_dinov3_dir))
    project.save_config(project.load_config().replace(image_size=128))
    fake_camera.frames = [generate_scene("good", 3)[0], generate_scene("spot", 3)[0]]
    at = app(page="pages/projects.py", project="Demo")
    at.switch_page("pages/train.py").run()
    at.button(key="train_button").click()
    at.run()
    assert project.is_trained
    for page in ("pages/capture.py", "pages/validation.py", "pages/live.py"):
        at.switch_page(page).run()
        assert not at.exception, page
    assert fake_camera.calls  # the camera component was set up (with no ICE servers)
