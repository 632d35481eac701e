"""Optional login: off without secrets; with a password hash in secrets, nothing shows before it."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from dinoad.auth import hash_password

APP_FILE = Path(__file__).resolve().parents[2] / "streamlit_app.py"


def test_without_a_login_secret_the_app_opens(app):
    at = app()
    assert at.title[0].value == "Projects"
    assert "login_password" not in [widget.key for widget in at.text_input]


def test_password_login_gates_every_page(projects_root, fake_camera):
    at = AppTest.from_file(str(APP_FILE), default_timeout=60)
    at.secrets["login"] = {"password_hash": hash_password("line-4-pilot", iterations=1000)}
    at.run()
    assert [t.value for t in at.title] == ["dinoad"]
    assert not at.sidebar.selectbox  # no project picker, no pages before login
    at.text_input(key="login_password").input("wrong password")
    at.button[0].click()
    at.run()
    assert at.error[0].value == "Wrong password." and [t.value for t in at.title] == ["dinoad"]
    at.text_input(key="login_password").input("line-4-pilot")
    at.button[0].click()
    at.run()
    assert at.title[0].value == "Projects"
