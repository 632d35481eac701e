import json
import os

import pytest

from dinoad.storage import read_json, write_bytes_atomic, write_json_atomic


def test_json_is_written_whole_and_readable(tmp_path):
    path = tmp_path / "sub" / "config.json"
    write_json_atomic(path, {"a": 1, "name": "Prüfteil"})
    assert read_json(path) == {"a": 1, "name": "Prüfteil"}
    assert json.loads(path.read_text(encoding="utf-8"))["name"] == "Prüfteil"


def test_a_failed_write_keeps_the_previous_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "bank.bin"
    write_bytes_atomic(path, b"previous")

    def crash(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        write_bytes_atomic(path, b"new")
    assert path.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["bank.bin"]


def test_nan_is_refused_before_anything_is_written(tmp_path):
    path = tmp_path / "stats.json"
    with pytest.raises(ValueError):
        write_json_atomic(path, {"score": float("nan")})
    assert not path.exists()
