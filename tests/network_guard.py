"""Make any connection (or name lookup) to a non-loopback address fail loudly and be recorded.

Used in-process by the no-outbound-traffic tests, and as ``sitecustomize`` (see
``tests/network_guard_site/``) for a Streamlit server started as a subprocess.
"""

from __future__ import annotations

import ipaddress
import os
import socket

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}
VIOLATIONS_ENV = "DINOAD_NETWORK_VIOLATIONS"  # file that a guarded subprocess appends attempts to
# Comma-separated addresses that count as local: the private address a browser test gives ``lo`` inside
# its own network namespace (WebRTC needs one that is not loopback); nothing outside is reachable there.
ALLOWED_ENV = "DINOAD_NETWORK_ALLOWED"


class OutboundConnectionAttempt(RuntimeError):
    pass


def is_local(host: object) -> bool:
    if host is None or host in ("", b""):
        return True
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    host = str(host)
    if host in LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False  # a name other than localhost would need DNS: outbound
    allowed = {part.strip() for part in os.environ.get(ALLOWED_ENV, "").split(",") if part.strip()}
    return address.is_loopback or address.is_unspecified or str(address) in allowed


def install(attempts: list[str]) -> dict[str, object]:
    """Patch the socket module; returns the originals so ``uninstall`` can restore them."""
    originals = {
        "connect": socket.socket.connect,
        "connect_ex": socket.socket.connect_ex,
        "sendto": socket.socket.sendto,
        "getaddrinfo": socket.getaddrinfo,
    }

    def refuse(what: str) -> None:
        attempts.append(what)
        path = os.environ.get(VIOLATIONS_ENV)
        if path:
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(what + "\n")
        raise OutboundConnectionAttempt(f"outbound network access attempted: {what}")

    def guarded_connect(self, address, *args):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not is_local(address[0]):
            refuse(f"connect {address!r}")
        return originals["connect"](self, address, *args)

    def guarded_connect_ex(self, address, *args):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not is_local(address[0]):
            refuse(f"connect_ex {address!r}")
        return originals["connect_ex"](self, address, *args)

    def guarded_sendto(self, data, *args):
        address = args[-1]
        if self.family in (socket.AF_INET, socket.AF_INET6) and not is_local(address[0]):
            refuse(f"sendto {address!r}")
        return originals["sendto"](self, data, *args)

    def guarded_getaddrinfo(host, *args, **kwargs):
        if not is_local(host):
            refuse(f"getaddrinfo {host!r}")
        return originals["getaddrinfo"](host, *args, **kwargs)

    socket.socket.connect = guarded_connect
    socket.socket.connect_ex = guarded_connect_ex
    socket.socket.sendto = guarded_sendto
    socket.getaddrinfo = guarded_getaddrinfo
    return originals


def uninstall(originals: dict[str, object]) -> None:
    socket.socket.connect = originals["connect"]
    socket.socket.connect_ex = originals["connect_ex"]
    socket.socket.sendto = originals["sendto"]
    socket.getaddrinfo = originals["getaddrinfo"]
