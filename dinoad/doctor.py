"""Model access check: can this machine load the configured backbone, and how fast does it run?

Each failed check carries the fix. The hub is contacted only when the model is a hub id and
offline mode is off; the token is only ever reported as set or not set.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field

import torch

from dinoad.backbone import DINOV2_ALTERNATIVE, _is_local_reference, load_backbone, resolve_dtype, select_device
from dinoad.config import check_image_size
from dinoad.errors import DinoadError

OFFLINE_VALUES = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None  # None: not applicable or not checked
    detail: str
    fix: str = ""


@dataclass
class DoctorReport:
    model_id: str
    checks: list[Check] = field(default_factory=list)
    forward_ms: float | None = None

    @property
    def ok(self) -> bool:
        return all(check.ok is not False for check in self.checks) and self.forward_ms is not None

    def to_dict(self) -> dict:
        return {"model_id": self.model_id, "ok": self.ok, "forward_ms": self.forward_ms,
                "checks": [asdict(check) for check in self.checks]}


def download_command(model_id: str) -> str:
    return f"hf download {model_id} --local-dir {model_id.rsplit('/', 1)[-1]}"


def hub_offline() -> bool:
    flags = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    return any(os.environ.get(name, "").lower() in OFFLINE_VALUES for name in flags)


def _hub_checks(model_id: str) -> tuple[list[Check], bool]:
    """Cache, reachability, gating and access for a hub id; returns (checks, weights obtainable)."""
    import huggingface_hub
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    local_fix = (f"on a machine with internet run `{download_command(model_id)}` (with HF_TOKEN set for gated "
                 "models), copy the folder here and set the model to that folder")
    cached = isinstance(huggingface_hub.try_to_load_from_cache(model_id, "config.json"), str)
    token_set = huggingface_hub.get_token() is not None
    checks = [
        Check("local cache", True if cached else None, ("found in" if cached else "not in") + " the HuggingFace cache"),
        Check("token", None, "HF_TOKEN is set" if token_set else "no HuggingFace token is set"),
    ]
    if hub_offline():
        checks.append(Check("hub", None if cached else False, "offline mode is on: the hub was not contacted",
                            "" if cached else local_fix))
        return checks, cached
    try:
        info = huggingface_hub.model_info(model_id)
    except RepositoryNotFoundError:
        checks.append(Check("hub", False, f"{model_id} does not exist on the hub (or is private)",
                            "check the model id, or give a local model folder"))
        return checks, False
    except Exception as exc:  # any transport failure (DNS, proxy, TLS, timeout) means "unreachable"
        checks.append(Check("hub", False, f"the hub is not reachable ({type(exc).__name__})",
                            "" if cached else local_fix))
        return checks, cached
    gated = bool(getattr(info, "gated", False))
    checks.append(Check("hub", True, "reachable; " + ("gated model (licence required)" if gated else "not gated")))
    try:
        huggingface_hub.auth_check(model_id)
    except GatedRepoError:
        checks.append(Check(
            "access", False, "the token does not grant access" if token_set else "gated and no token is set",
            f"accept the licence on https://huggingface.co/{model_id}, create a read token and set HF_TOKEN, "
            f"or choose a DINOv2 model such as {DINOV2_ALTERNATIVE}",
        ))
        return checks, cached
    checks.append(Check("access", True, "this machine may download the weights"))
    return checks, True


def diagnose(model_id: str, dtype: str = "auto", image_size: int = 448) -> DoctorReport:
    """Run every check for ``model_id`` and, when the weights are obtainable, one timed forward pass."""
    report = DoctorReport(model_id)
    if _is_local_reference(model_id):
        obtainable = True
        report.checks.append(Check("source", None, "local model folder"))
    else:
        report.checks.append(Check("source", None, "HuggingFace hub id"))
        hub_checks, obtainable = _hub_checks(model_id)
        report.checks.extend(hub_checks)
    device = select_device()
    compute_dtype = str(resolve_dtype(dtype, device)).removeprefix("torch.")
    report.checks.append(Check("device", None, f"{device.type}, compute dtype {compute_dtype}"))
    if not obtainable:
        return report
    try:
        backbone = load_backbone(model_id, dtype, device)
        check_image_size(image_size, backbone.patch_size)
        pixels = torch.zeros(1, 3, image_size, image_size)
        backbone.patch_features(pixels)  # the first call pays one-off allocation costs
        start = time.perf_counter()
        backbone.patch_features(pixels)
        report.forward_ms = (time.perf_counter() - start) * 1000.0
    except DinoadError as exc:
        report.checks.append(Check("load", False, str(exc)))
        return report
    report.checks.append(Check("load", True, f"loaded; one forward pass at {image_size} px took "
                                             f"{report.forward_ms:.0f} ms"))
    return report


def format_report(report: DoctorReport) -> str:
    marks = {True: "ok  ", False: "FAIL", None: "    "}
    lines = [f"model: {report.model_id}"]
    for check in report.checks:
        lines.append(f"[{marks[check.ok]}] {check.name}: {check.detail}")
        if check.fix:
            lines.append(f"       fix: {check.fix}")
    lines.append("result: ready" if report.ok else "result: this model cannot be used yet (see the fixes above)")
    return "\n".join(lines)
