"""Fake camera files for Chromium: a y4m clip of synthetic scenes, each held long enough to capture."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import cv2

from dinoad.demo import DEFECT_KINDS, generate_scene

FRAME_RATE = 10  # frames per second in the clip
SECONDS_PER_SCENE = 1  # each scene stays on screen this long, then the next one (the clip loops)


def scenes(kind: str, count: int, first_index: int = 0) -> list[tuple[str, int]]:
    """(kind, index) pairs; ``defect`` cycles through every defect kind."""
    if kind == "defect":
        return [(DEFECT_KINDS[i % len(DEFECT_KINDS)], first_index + i) for i in range(count)]
    return [(kind, first_index + i) for i in range(count)]


def make_camera_file(path: Path, kind: str, count: int, first_index: int = 0) -> Path:
    """Write a y4m (yuv420p) clip showing ``count`` scenes of ``kind`` for Chromium's fake camera."""
    with tempfile.TemporaryDirectory() as folder:
        for number, (scene_kind, index) in enumerate(scenes(kind, count, first_index)):
            rgb = generate_scene(scene_kind, index)[0]
            cv2.imwrite(str(Path(folder) / f"{number:03d}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        subprocess.run(
            ["ffmpeg", "-y", "-loglevel", "error", "-framerate", f"1/{SECONDS_PER_SCENE}",
             "-i", str(Path(folder) / "%03d.png"), "-vf", f"fps={FRAME_RATE},format=yuv420p",
             "-f", "yuv4mpegpipe", str(path)],
            check=True,
        )
    return path
