"""One lock file per project, so two sessions never change its memory bank at the same time
(training, or live feedback that grows the bank).

The lock is a file created with O_EXCL holding the owner's pid, host and start time. A lock whose
process is gone (killed during training) is stale and taken over, so a crash never blocks a
project for good.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dinoad.errors import DinoadError

LOCK_FILE = ".bank.lock"


class ProjectBusy(DinoadError):
    """Another session holds the project's lock."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_owner(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _is_stale(owner: dict | None) -> bool:
    if owner is None:
        return True  # empty or half-written: its writer died between create and write
    return owner.get("host") == socket.gethostname() and not _alive(int(owner.get("pid", -1)))


@contextmanager
def project_lock(folder: Path, job: str) -> Iterator[None]:
    """Hold ``folder/.bank.lock`` while ``job`` (e.g. "training") runs; ProjectBusy naming the
    other job when a live process holds it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_FILE
    owner = {"pid": os.getpid(), "host": socket.gethostname(), "job": job,
             "since": time.strftime("%Y-%m-%d %H:%M:%S")}
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            current = _read_owner(path)
            if _is_stale(current):
                path.unlink(missing_ok=True)
                continue
            job_running = current.get("job", "another job")
            raise ProjectBusy(
                f"this project is busy with {job_running} (process {current.get('pid')} on "
                f"{current.get('host')} since {current.get('since')}); wait until it has finished, then try again"
            ) from None
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(owner, handle)
        break
    else:
        raise ProjectBusy(f"could not take the project lock in {folder} for {job}; try again")
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
