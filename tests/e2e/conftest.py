"""Real-browser fixtures: a private network namespace, the Streamlit server and Chromium inside it.

WebRTC needs an address shared by browser and server that is not plain loopback (Chromium offers
no loopback ICE candidates, aioice skips 127.0.0.1). So the test creates a network namespace with
``lo`` up and one extra private address on it, runs the server and Chromium in it (Chromium via a
tiny ``nsenter`` wrapper that Playwright launches), and nothing can reach or leave that network.

The tests skip, saying why, when Chromium, ffmpeg or namespaces are unavailable; with
``DINOAD_REQUIRE_BROWSER=1`` (CI) they fail instead.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from browser_support import CHROMIUM, NAMESPACE_ADDRESS, unavailable_reason

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
REQUIRE_ENV = "DINOAD_REQUIRE_BROWSER"
SERVER_START_TIMEOUT = 90.0  # seconds: first import of torch/transformers on a busy 2-core machine


@pytest.fixture(scope="session")
def browser_ready() -> None:
    reason = unavailable_reason()
    if reason is None:
        return
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1 but the browser tests cannot run: {reason}")
    pytest.skip(reason)


@dataclass
class Namespace:
    holder: subprocess.Popen
    net_path: str
    chromium_wrapper: Path

    def run(self, *command: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(["nsenter", f"--net={self.net_path}", *command], **kwargs)


@pytest.fixture(scope="session")
def namespace(browser_ready, tmp_path_factory) -> Iterator[Namespace]:
    """A network namespace kept alive by a sleeping holder process; removed when it exits."""
    setup = f"ip link set lo up && ip addr add {NAMESPACE_ADDRESS} dev lo && exec sleep infinity"
    holder = subprocess.Popen(["unshare", "-n", "--", "sh", "-c", setup])
    net_path = f"/proc/{holder.pid}/ns/net"
    wrapper = tmp_path_factory.mktemp("chromium") / "chromium-in-namespace"
    wrapper.write_text(f'#!/bin/sh\nexec nsenter --net={net_path} {CHROMIUM} "$@"\n')
    wrapper.chmod(0o755)
    space = Namespace(holder, net_path, wrapper)
    try:
        for _ in range(50):  # the holder sets the address, then sleeps
            shown = space.run("ip", "-brief", "addr", "show", "lo", capture_output=True, text=True)
            if NAMESPACE_ADDRESS.split("/")[0] in shown.stdout:
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"the test network namespace did not come up: {shown.stdout} {shown.stderr}")
        yield space
    finally:
        holder.terminate()
        holder.wait(timeout=10)


def _free_port() -> int:
    # Ports are per namespace; any free port number here is free in the fresh namespace too.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    url: str
    projects: Path
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]


@pytest.fixture(scope="session")
def streamlit_server(namespace, tmp_path_factory) -> Iterator[Server]:
    """``streamlit run streamlit_app.py`` inside the namespace, on a fresh projects folder."""
    work = tmp_path_factory.mktemp("e2e-server")
    projects = work / "projects"
    port = _free_port()
    env = {**os.environ, "DINOAD_PROJECTS": str(projects), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "PYTHONUNBUFFERED": "1"}
    env.pop("DINOAD_ICE_SERVERS", None)
    log_path = work / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            ["nsenter", f"--net={namespace.net_path}", sys.executable, "-m", "streamlit", "run", "streamlit_app.py",
             "--server.address", "127.0.0.1", "--server.port", str(port), "--server.headless", "true",
             "--browser.gatherUsageStats", "false"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", projects, process, log_path)
    health = f"import urllib.request; urllib.request.urlopen('{server.url}/_stcore/health', timeout=2).read()"
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"the Streamlit server exited with {process.returncode}:\n{server.log()}")
            if namespace.run(sys.executable, "-c", health, capture_output=True).returncode == 0:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"the Streamlit server did not answer within {SERVER_START_TIMEOUT:.0f} s:\n{server.log()}")
            time.sleep(0.5)
        # The server answers inside the namespace only: it has no route to any other network.
        assert os.readlink(f"/proc/{process.pid}/ns/net") == os.readlink(namespace.net_path)
        assert os.readlink(f"/proc/{process.pid}/ns/net") != os.readlink("/proc/self/ns/net")
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def playwright_instance(browser_ready):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
