import pytest

from dinoad.auth import hash_password, verify_password
from dinoad.cli import main


def test_hash_verifies_only_the_right_password_and_is_salted():
    stored = hash_password("line-4-pilot", iterations=1000)
    assert stored.startswith("pbkdf2_sha256$1000$") and "line-4-pilot" not in stored
    assert verify_password("line-4-pilot", stored)
    assert not verify_password("line-4-pilot ", stored)
    assert hash_password("line-4-pilot", iterations=1000) != stored


@pytest.mark.parametrize("stored", ["", "plain-text", "md5$1$a$b", "pbkdf2_sha256$x$y$z", "pbkdf2_sha256$1$@@$@@"])
def test_malformed_hashes_never_verify(stored):
    assert not verify_password("anything", stored)


def test_short_passwords_are_refused():
    with pytest.raises(ValueError, match="at least 8"):
        hash_password("short")


def test_hash_password_command(monkeypatch, capsys, tmp_path):
    answers = iter(["line-4-pilot", "line-4-pilot"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert main(["hash-password", "--projects", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    [line] = [row for row in out.splitlines() if row.startswith("password_hash")]
    assert verify_password("line-4-pilot", line.split('"')[1])
    answers = iter(["line-4-pilot", "different"])
    assert main(["hash-password", "--projects", str(tmp_path)]) == 1
    assert "differ" in capsys.readouterr().err
