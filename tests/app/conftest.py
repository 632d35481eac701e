"""AppTest fixtures: a projects folder per test, the real app entry file, a fake camera.

``webrtc_streamer`` cannot run under AppTest (no browser, no WebRTC), so it is replaced by a fake
that feeds chosen frames through the page's own ``video_frame_callback``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pytest
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1 import app_test as app_test_module

APP_FILE = Path(__file__).resolve().parents[2] / "streamlit_app.py"
RUN_TIMEOUT = 120  # seconds; a run that loads the tiny model and trains takes a few


class _AppTestPagesManager(PagesManager):
    """AppTest builds a fresh PagesManager for every run and resets the class flag that says the app
    uses the legacy ``pages/`` directory; with a ``pages/`` folder present every run after the first
    then executes the page alone, skipping the shell. In a real server ``st.navigation`` clears that
    flag on the first run, for good. This subclass takes AppTest's reset, so the real flag stays as
    the server has it (False)."""


@pytest.fixture(autouse=True)
def streamlit_like_a_server(monkeypatch):
    monkeypatch.setattr(app_test_module, "PagesManager", _AppTestPagesManager)
    monkeypatch.setattr(PagesManager, "uses_pages_directory", False)


@pytest.fixture
def projects_root(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "projects"
    monkeypatch.setenv("DINOAD_PROJECTS", str(root))
    monkeypatch.delenv("DINOAD_ICE_SERVERS", raising=False)
    return root


class FakeCamera:
    """Stands in for ``streamlit_webrtc.webrtc_streamer``: records the call and pushes ``frames``
    through the page's video_frame_callback as real ``av.VideoFrame`` objects."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.frames: list[np.ndarray] = []

    def __call__(self, key: str, **kwargs):
        self.calls.append({"key": key, **kwargs})
        callback = kwargs.get("video_frame_callback")
        for rgb in self.frames:
            returned = callback(av.VideoFrame.from_ndarray(rgb, format="rgb24"))
            assert returned is not None, "the callback must hand the frame back for the preview"
        return SimpleNamespace(state=SimpleNamespace(playing=bool(self.frames)))


@pytest.fixture
def fake_camera(monkeypatch) -> FakeCamera:
    import streamlit_webrtc  # imported here: at collection time it logs Streamlit "no runtime" warnings

    camera = FakeCamera()
    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", camera)
    return camera


@pytest.fixture
def app(projects_root, fake_camera) -> Callable[..., AppTest]:
    """``app(page=None, project=None)``: the app after its first run, optionally on a page with a project."""

    def start(page: str | None = None, project: str | None = None) -> AppTest:
        at = AppTest.from_file(str(APP_FILE), default_timeout=RUN_TIMEOUT)
        if project is not None:
            at.query_params["project"] = project
        at.run()
        if page is not None:
            at.switch_page(page).run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return start
