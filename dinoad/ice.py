"""WebRTC ICE server settings: none by default, so the app never contacts an outside server.

Remote setups (browser and server on different networks) may need STUN/TURN servers; give them
as a JSON list in the environment variable ``DINOAD_ICE_SERVERS`` or under ``ice_servers`` in
``.streamlit/secrets.toml``. The environment wins when both are set.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from dinoad.errors import ConfigError

ICE_ENV = "DINOAD_ICE_SERVERS"
ICE_SECRET = "ice_servers"
ICE_FORMAT_HINT = (
    'a JSON list such as [{"urls": ["stun:stun.example.org:3478"]}] or '
    '[{"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "p"}]'
)


def _check_servers(servers: Any, source: str) -> list[dict[str, Any]]:
    if not isinstance(servers, (list, tuple)):
        raise ConfigError(f"{source} must be {ICE_FORMAT_HINT}; got {type(servers).__name__}")
    checked = []
    for server in servers:
        if not isinstance(server, Mapping) or "urls" not in server:
            raise ConfigError(f"every ICE server in {source} needs 'urls'; use {ICE_FORMAT_HINT}")
        urls = server["urls"]
        urls = [urls] if isinstance(urls, str) else urls
        if not isinstance(urls, (list, tuple)) or not urls or not all(isinstance(u, str) for u in urls):
            raise ConfigError(f"'urls' in {source} must be a URL or a list of URLs; use {ICE_FORMAT_HINT}")
        entry: dict[str, Any] = {"urls": list(urls)}
        for key in ("username", "credential"):
            if key in server:
                entry[key] = str(server[key])
        checked.append(entry)
    return checked


def rtc_configuration(secrets: Mapping[str, Any] | None = None,
                      environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The ``rtc_configuration`` for streamlit-webrtc: ``{"iceServers": [...]}``, empty by default.

    An explicit empty list matters: with no setting at all the library contacts public STUN
    servers (and a remote TURN login service when HF_TOKEN is set).
    """
    environ = os.environ if environ is None else environ
    text = environ.get(ICE_ENV, "").strip()
    if text:
        try:
            servers = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"{ICE_ENV} is not valid JSON ({exc}); set it to {ICE_FORMAT_HINT}") from exc
        return {"iceServers": _check_servers(servers, ICE_ENV)}
    if secrets is not None and ICE_SECRET in secrets:
        return {"iceServers": _check_servers(secrets[ICE_SECRET], f"secrets '{ICE_SECRET}'")}
    return {"iceServers": []}
