"""One viewer's live inspection: the video thread's frame handler, pause, and the last NOK frame.

The Live page keeps one ``LiveSession`` per browser session. The video callback (a worker thread)
calls ``handle``; the page swaps in a new inspector after feedback or retraining with
``use_inspector`` while the stream runs, and reads results through ``state`` (a ``LiveState``).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from dataclasses import dataclass

import numpy as np

from dinoad.inspection_log import InspectionLog
from dinoad.live import FrameProcessor, LiveState
from dinoad.pipeline import Inspector
from dinoad.scoring import Verdict

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NokFrame:
    """A frame judged NOK, kept so the operator can answer "this is good" or "this is a defect"."""

    number: int  # increases with every NOK frame of the session
    rgb: np.ndarray
    score: float
    threshold: float | None
    model_version: str
    at: float  # time.time()


class LiveSession:
    """Thread-safe holder shared by the video callback and the page of one viewer."""

    def __init__(self, project_name: str, inspector: Inspector, inspection_log: InspectionLog | None = None) -> None:
        self.project_name = project_name
        self.state = LiveState()
        self.paused = False  # a plain bool: set by the page, read by the video thread
        self.error: str | None = None  # the last scoring failure; the stream goes on
        self._lock = threading.Lock()
        self._processor = FrameProcessor(inspector, inspection_log, self.state)
        self._last_nok: NokFrame | None = None
        self._nok_numbers = itertools.count(1)

    @property
    def inspector(self) -> Inspector:
        with self._lock:
            return self._processor.inspector

    @property
    def inspection_log(self) -> InspectionLog | None:
        return self._processor.log

    def use_inspector(self, inspector: Inspector) -> bool:
        """Score the next frames with ``inspector`` (history and counts stay); True when it changed."""
        with self._lock:
            if self._processor.inspector is inspector:
                return False
            self._processor = FrameProcessor(inspector, self._processor.log, self.state)
            return True

    def handle(self, rgb: np.ndarray) -> np.ndarray:
        """The video callback's work: score and annotate one RGB frame. Paused or failing, the frame
        comes back unchanged so the preview keeps running."""
        if self.paused:
            return rgb
        with self._lock:
            processor = self._processor
        try:
            scored, annotated = processor.process(rgb)
        except Exception as exc:  # a frame that cannot be scored must not end the stream
            log.exception("live frame not scored")
            self.error = f"frame not scored: {exc}"
            return rgb
        self.error = None
        if scored.verdict is Verdict.NOK:
            nok = NokFrame(next(self._nok_numbers), rgb.copy(), scored.score, scored.threshold,
                           processor.inspector.model_version, time.time())
            with self._lock:
                self._last_nok = nok
        return annotated

    def last_nok(self) -> NokFrame | None:
        with self._lock:
            return self._last_nok

    def forget_nok(self, number: int) -> None:
        """Drop the kept NOK frame once feedback used it (unless a newer one replaced it)."""
        with self._lock:
            if self._last_nok is not None and self._last_nok.number == number:
                self._last_nok = None
