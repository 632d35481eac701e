"""Live inspection, independent of any UI: frame -> ScoredImage -> overlay -> log -> live state.

Used by the Live page's video callback (a worker thread) and by the headless ``watch`` command.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from dinoad.inspection_log import InspectionLog
from dinoad.overlay import colour_scale_max, heatmap_overlay
from dinoad.pipeline import Inspector
from dinoad.scoring import ScoredImage, Verdict

HISTORY_LENGTH = 200  # verdicts kept in memory for the page's history panel
FPS_WINDOW = 20  # frames averaged for the fps readout
UNCALIBRATED_COLOUR = (60, 60, 160)
BANNER_COLOURS = {Verdict.OK: (30, 160, 60), Verdict.NOK: (210, 30, 30), Verdict.NO_PART: (110, 110, 110)}


@dataclass(frozen=True)
class LiveEntry:
    at: float  # time.time()
    verdict: str
    score: float
    threshold: float | None
    latency_ms: float


class LiveState:
    """What the page shows, filled by the video thread: lock-protected, bounded in memory."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._history: deque[LiveEntry] = deque(maxlen=HISTORY_LENGTH)
        self._frame_times: deque[float] = deque(maxlen=FPS_WINDOW)
        self._counts: dict[str, int] = {}
        self._last: ScoredImage | None = None
        self.error: str | None = None

    def add(self, scored: ScoredImage) -> None:
        verdict = str(scored.verdict) if scored.verdict is not None else "UNCALIBRATED"
        with self._lock:
            self._history.append(LiveEntry(time.time(), verdict, scored.score, scored.threshold, scored.total_ms))
            self._frame_times.append(time.perf_counter())
            self._counts[verdict] = self._counts.get(verdict, 0) + 1
            self._last = scored

    def snapshot(self) -> tuple[list[LiveEntry], dict[str, int], float, ScoredImage | None]:
        """(history oldest first, counts per verdict, frames per second, last result)."""
        with self._lock:
            return list(self._history), dict(self._counts), self._fps(), self._last

    def _fps(self) -> float:
        if len(self._frame_times) < 2:
            return 0.0
        span = self._frame_times[-1] - self._frame_times[0]
        return (len(self._frame_times) - 1) / span if span > 0 else 0.0


def render_live_overlay(rgb: np.ndarray, scored: ScoredImage, fps: float) -> np.ndarray:
    """Heatmap in threshold units (skipped for NO PART: detection is paused), threshold contour,
    and a banner with verdict, score / threshold, fps and per-stage latency."""
    if scored.verdict is Verdict.NO_PART:
        shown = rgb.copy()
    else:
        scale = colour_scale_max(scored.threshold, scored.anomaly_map)
        shown = heatmap_overlay(rgb, scored.anomaly_map, scale, scored.threshold)
    height, width = shown.shape[:2]
    banner = max(24, height // 12)
    cv2.rectangle(shown, (0, 0), (width, banner), BANNER_COLOURS.get(scored.verdict, UNCALIBRATED_COLOUR), -1)
    verdict = str(scored.verdict) if scored.verdict is not None else "NOT CALIBRATED"
    threshold = f" / {scored.threshold:.3f}" if scored.threshold is not None else ""
    stages = " ".join(f"{name} {ms:.0f}" for name, ms in scored.timings_ms.items())
    font_scale = banner / 40
    cv2.putText(shown, f"{verdict}  {scored.score:.3f}{threshold}", (8, int(banner * 0.72)),
                cv2.FONT_HERSHEY_SIMPLEX, font_scale, (255, 255, 255), max(1, banner // 16), cv2.LINE_AA)
    footer = f"{fps:.1f} fps | {stages} ms"
    cv2.putText(shown, footer, (8, height - 8), cv2.FONT_HERSHEY_SIMPLEX, font_scale * 0.6, (255, 255, 255),
                1, cv2.LINE_AA)
    return shown


class FrameProcessor:
    """Scores frames for one trained project and records them; safe to call from a worker thread."""

    def __init__(self, inspector: Inspector, log: InspectionLog | None = None,
                 state: LiveState | None = None) -> None:
        self.inspector = inspector
        self.log = log
        self.state = state or LiveState()

    def process(self, rgb: np.ndarray) -> tuple[ScoredImage, np.ndarray]:
        """Score one RGB frame; returns (result, annotated frame). Logging failures never raise."""
        scored = self.inspector.score(rgb)
        self.state.add(scored)
        _, _, fps, _ = self.state.snapshot()
        annotated = render_live_overlay(rgb, scored, fps)
        if self.log is not None:
            heatmap = annotated if scored.verdict is Verdict.NOK else None
            self.log.record(scored, self.inspector.model_version, rgb, heatmap)
            self.state.error = self.log.last_error
        return scored, annotated
