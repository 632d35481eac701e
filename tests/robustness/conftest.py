"""The robustness suite drives pages too: reuse the AppTest fixtures of tests/app."""

from tests.app.conftest import app, fake_camera, projects_root, streamlit_like_a_server  # noqa: F401
