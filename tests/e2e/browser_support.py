"""What the real-browser tests need from the machine, and the Chromium flags they use."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
NAMESPACE_ADDRESS = "10.250.0.1/32"  # private, exists only inside the test's namespace
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
]


def unavailable_reason() -> str | None:
    """Why real-browser tests cannot run here, or None."""
    if not CHROMIUM.is_file():
        return f"Chromium not found at {CHROMIUM}: apt-get install -y chromium"
    if shutil.which("ffmpeg") is None:
        return "ffmpeg not found (makes the fake camera file): apt-get install -y ffmpeg"
    for tool in ("unshare", "nsenter", "ip"):
        if shutil.which(tool) is None:
            return f"{tool} not found (util-linux / iproute2): needed for the test's network namespace"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed: pip install -r requirements-dev.txt"
    probe = subprocess.run(["unshare", "-n", "--", "ip", "link", "set", "lo", "up"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"cannot create a network namespace (needs root or CAP_SYS_ADMIN): {probe.stderr.strip()}"
    return None
