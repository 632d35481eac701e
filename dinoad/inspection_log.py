"""The inspection log: one SQLite row per inspected frame, saved frames for every NOK and a sample of OKs.

A failing write (disk full, read-only folder, locked database) is recorded in ``last_error`` and
never raised: inspection on the line must go on.
"""

from __future__ import annotations

import csv
import io
import logging
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from dinoad.images import encode_png
from dinoad.scoring import ScoredImage, Verdict
from dinoad.storage import write_bytes_atomic

log = logging.getLogger(__name__)

LOG_FILE = "inspections.sqlite"
FRAMES_DIR = "inspections"
DEFAULT_OK_SAMPLE_EVERY = 20  # keep the frame of every 20th OK: enough to audit, bounded disk use
COLUMNS = ("id", "timestamp", "verdict", "score", "threshold", "model_version", "latency_ms", "frame", "heatmap")
SCHEMA = """
CREATE TABLE IF NOT EXISTS inspections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp TEXT NOT NULL,
    verdict TEXT NOT NULL,
    score REAL NOT NULL,
    threshold REAL,
    model_version TEXT NOT NULL,
    latency_ms REAL NOT NULL,
    frame TEXT,
    heatmap TEXT
);
CREATE INDEX IF NOT EXISTS inspections_timestamp ON inspections (timestamp);
"""


@dataclass(frozen=True)
class LoggedInspection:
    id: int
    timestamp: str
    verdict: str
    score: float
    threshold: float | None
    model_version: str
    latency_ms: float
    frame: str | None
    heatmap: str | None


class InspectionLog:
    """Append-only log in ``results/inspections.sqlite``, safe to share between threads."""

    def __init__(self, results_dir: Path, ok_sample_every: int = DEFAULT_OK_SAMPLE_EVERY) -> None:
        self.results_dir = Path(results_dir)
        self.path = self.results_dir / LOG_FILE
        self.ok_sample_every = ok_sample_every
        self.last_error: str | None = None
        self._lock = threading.Lock()
        self._ok_count = 0

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=5)
        connection.executescript(SCHEMA)
        return connection

    def record(self, scored: ScoredImage, model_version: str, frame_rgb: np.ndarray | None = None,
               heatmap_rgb: np.ndarray | None = None) -> int | None:
        """Log one scored frame; returns the row id, or None when the write failed (see last_error)."""
        now = datetime.now(UTC)
        verdict = str(scored.verdict) if scored.verdict is not None else "UNCALIBRATED"
        try:
            with self._lock:
                keep_frame = self._keep_frame(scored.verdict)
                frame_path = heatmap_path = None
                if keep_frame and frame_rgb is not None:
                    stem = f"{now:%Y%m%d}/{now:%H%M%S_%f}_{verdict.replace(' ', '_')}"
                    frame_path = self._save(f"{stem}_frame.png", frame_rgb)
                    if heatmap_rgb is not None:
                        heatmap_path = self._save(f"{stem}_heatmap.png", heatmap_rgb)
                self.results_dir.mkdir(parents=True, exist_ok=True)
                with self._connect() as connection:
                    cursor = connection.execute(
                        "INSERT INTO inspections (timestamp, verdict, score, threshold, model_version, latency_ms,"
                        " frame, heatmap) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (now.isoformat(timespec="milliseconds"), verdict, float(scored.score), scored.threshold,
                         model_version, float(scored.total_ms), frame_path, heatmap_path),
                    )
                    row_id = cursor.lastrowid
                connection.close()
            self.last_error = None
            return row_id
        except (sqlite3.Error, OSError) as exc:
            self.last_error = f"inspection log not written ({exc}); inspection continues. Free disk space or " \
                              f"make {self.results_dir} writable"
            log.warning(self.last_error)
            return None

    def _keep_frame(self, verdict: Verdict | None) -> bool:
        if verdict is Verdict.NOK:
            return True
        if verdict is Verdict.OK:
            self._ok_count += 1
            return (self._ok_count - 1) % self.ok_sample_every == 0
        return False

    def _save(self, relative: str, rgb: np.ndarray) -> str:
        write_bytes_atomic(self.results_dir / FRAMES_DIR / relative, encode_png(rgb))
        return f"{FRAMES_DIR}/{relative}"

    def recent(self, limit: int = 50) -> list[LoggedInspection]:
        """The newest ``limit`` inspections, newest first (empty when there is no log yet)."""
        if not self.path.is_file():
            return []
        connection = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5)
        try:
            rows = connection.execute(
                f"SELECT {', '.join(COLUMNS)} FROM inspections ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        finally:
            connection.close()
        return [LoggedInspection(*row) for row in rows]

    def counts(self) -> dict[str, int]:
        if not self.path.is_file():
            return {}
        connection = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5)
        try:
            return dict(connection.execute("SELECT verdict, COUNT(*) FROM inspections GROUP BY verdict").fetchall())
        finally:
            connection.close()

    def to_csv(self) -> str:
        """The whole log as CSV text (oldest first) for download."""
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(COLUMNS)
        for row in reversed(self.recent(limit=-1)):
            writer.writerow([getattr(row, name) for name in COLUMNS])
        return buffer.getvalue()

