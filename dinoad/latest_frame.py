"""A thread-safe holder for the newest camera frame.

The WebRTC video callback runs in a worker thread and may not touch Streamlit; it puts each
frame here, and the page's script thread takes the newest one when the user presses Capture.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

# A frame older than this is treated as gone: the camera stopped or the connection dropped.
STALE_AFTER_SECONDS = 3.0


@dataclass(frozen=True)
class Frame:
    """One camera frame as RGB uint8 at the camera's own resolution, with its arrival time."""

    rgb: np.ndarray
    received_at: float  # time.monotonic() seconds
    number: int  # 1 for the first frame the holder saw

    def age(self, now: float | None = None) -> float:
        return (time.monotonic() if now is None else now) - self.received_at


class LatestFrame:
    """Keeps only the newest frame; ``put`` from any thread, ``get`` from any other."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frame: Frame | None = None
        self._count = 0

    def put(self, rgb: np.ndarray) -> None:
        with self._lock:
            self._count += 1
            self._frame = Frame(rgb, time.monotonic(), self._count)

    def get(self, max_age: float | None = STALE_AFTER_SECONDS) -> Frame | None:
        """The newest frame, or None when there is none or it is older than ``max_age`` seconds."""
        with self._lock:
            frame = self._frame
        if frame is None or (max_age is not None and frame.age() > max_age):
            return None
        return frame

    @property
    def count(self) -> int:
        with self._lock:
            return self._count

    def clear(self) -> None:
        with self._lock:
            self._frame = None
