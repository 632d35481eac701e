"""Writing and reading short clips: y4m for Chromium's fake camera, mp4 for people and `watch`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from dinoad.storage import write_bytes_atomic


def encode_y4m(frames: Sequence[np.ndarray], fps: int) -> bytes:
    """RGB uint8 frames (all the same even size) -> an uncompressed YUV4MPEG2 4:2:0 stream."""
    height, width = frames[0].shape[:2]
    if height % 2 or width % 2:
        raise ValueError(f"y4m 4:2:0 needs even frame sizes; got {width}x{height}")
    parts = [f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode()]
    for frame in frames:
        if frame.shape[:2] != (height, width):
            raise ValueError("all frames of a clip must have the same size")
        parts.append(b"FRAME\n")
        parts.append(cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes())
    return b"".join(parts)


def write_y4m(path: Path, frames: Sequence[np.ndarray], fps: int) -> None:
    write_bytes_atomic(Path(path), encode_y4m(frames, fps))


def write_mp4(path: Path, frames: Sequence[np.ndarray], fps: int) -> None:
    """Write an MPEG-4 clip through OpenCV (temp name, then renamed into place)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames[0].shape[:2]
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot write {path.name}: no MPEG-4 encoder in this build")
    try:
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    tmp.replace(path)


def read_frames(path: Path) -> Iterator[np.ndarray]:
    """RGB frames of a video file, in order (anything OpenCV's FFmpeg backend can open)."""
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise OSError(f"cannot open video {path}")
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        capture.release()
