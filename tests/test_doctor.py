import json

import pytest

from dinoad import doctor
from dinoad.cli import main
from dinoad.doctor import diagnose, format_report


def test_local_model_folder_is_ready_with_a_timed_forward_pass(tiny_dinov3_dir):
    report = diagnose(str(tiny_dinov3_dir), "float32", 128)
    assert report.ok and report.forward_ms is not None and report.forward_ms > 0
    assert [c.name for c in report.checks] == ["source", "device", "load"]
    assert "forward pass at 128 px" in format_report(report)


def test_missing_folder_fails_with_the_fix(tmp_path):
    report = diagnose(str(tmp_path / "gone"))
    assert not report.ok and report.forward_ms is None
    [load] = [c for c in report.checks if c.name == "load"]
    assert load.ok is False and "does not exist" in load.detail


def test_offline_hub_is_not_contacted_and_the_fix_gives_the_download_command(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_TOKEN", "hf_SECRETtoken123")
    import huggingface_hub

    def contacted(*args, **kwargs):
        raise AssertionError("the hub must not be contacted in offline mode")

    monkeypatch.setattr(huggingface_hub, "model_info", contacted)
    monkeypatch.setattr(huggingface_hub, "auth_check", contacted)
    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda *a, **k: None)
    report = diagnose("facebook/dinov3-vits16-pretrain-lvd1689m")
    text = format_report(report) + json.dumps(report.to_dict())
    assert not report.ok
    assert "offline mode is on" in text
    assert "hf download facebook/dinov3-vits16-pretrain-lvd1689m --local-dir dinov3-vits16-pretrain-lvd1689m" in text
    assert "HF_TOKEN is set" in text and "hf_SECRETtoken123" not in text


def test_gated_model_without_access_names_licence_token_and_dinov2(monkeypatch):
    import huggingface_hub
    from huggingface_hub.errors import GatedRepoError

    class Info:
        gated = "manual"

    def denied(*args, **kwargs):
        error = GatedRepoError.__new__(GatedRepoError)
        Exception.__init__(error, "gated")
        raise error

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub, "model_info", lambda *a, **k: Info())
    monkeypatch.setattr(huggingface_hub, "auth_check", denied)
    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda *a, **k: None)
    report = diagnose("facebook/dinov3-vits16-pretrain-lvd1689m")
    [access] = [c for c in report.checks if c.name == "access"]
    assert access.ok is False
    assert "accept the licence" in access.fix and "HF_TOKEN" in access.fix and "dinov2" in access.fix


def test_unreachable_hub_is_reported(monkeypatch):
    import huggingface_hub

    def unreachable(*args, **kwargs):
        raise ConnectionError("blocked")

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub, "model_info", unreachable)
    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda *a, **k: None)
    report = diagnose("facebook/dinov2-small")
    [hub] = [c for c in report.checks if c.name == "hub"]
    assert hub.ok is False and "not reachable" in hub.detail and "hf download" in hub.fix


@pytest.mark.parametrize("value", ["1", "true", "YES"])
def test_offline_flag_values(monkeypatch, value):
    monkeypatch.setenv("HF_HUB_OFFLINE", value)
    assert doctor.hub_offline()


def test_doctor_command_exit_codes(tmp_path, capsys, tiny_dinov3_dir):
    assert main(["doctor", "--model", str(tiny_dinov3_dir), "--projects", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    assert main(["doctor", "--model", str(tmp_path / "missing"), "--projects", str(tmp_path)]) == 1
    assert "does not exist" in capsys.readouterr().out
