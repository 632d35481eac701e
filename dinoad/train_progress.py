"""Turning the engine's progress callbacks into stage lines, elapsed time and a time estimate."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

_NUMBERS = re.compile(r"\d+")


def stage_of(message: str) -> str:
    """The stage a progress message belongs to: the message with its counts blanked
    ("features 3/10" and "features 4/10" are one stage)."""
    return _NUMBERS.sub("#", message)


def format_seconds(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


@dataclass
class ProgressTracker:
    """Keeps the start of the run and of the current stage; estimates the stage's remaining time
    by linear extrapolation of its own progress (stages differ too much to share a rate)."""

    clock: Callable[[], float] = time.monotonic
    started: float = field(init=False)
    stage: str | None = field(init=False, default=None)
    stage_started: float = field(init=False)
    finished_stages: list[str] = field(init=False, default_factory=list)
    last_message: str = field(init=False, default="")

    def __post_init__(self) -> None:
        self.started = self.stage_started = self.clock()

    def update(self, done: int, total: int, message: str) -> tuple[float, str]:
        """Record a callback; returns (fraction of this stage done, status line)."""
        now = self.clock()
        stage = stage_of(message)
        if stage != self.stage:
            if self.stage is not None:
                self.finished_stages.append(self.last_message)
            self.stage, self.stage_started = stage, now
        self.last_message = message
        fraction = min(max(done / total, 0.0), 1.0) if total > 0 else 1.0
        line = f"{message} · {format_seconds(now - self.started)} elapsed"
        spent = now - self.stage_started
        if 0 < fraction < 1 and spent > 0:
            line += f" · about {format_seconds(spent / fraction * (1 - fraction))} left in this stage"
        return fraction, line

    def elapsed(self) -> float:
        return self.clock() - self.started
