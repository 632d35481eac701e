"""Frame sources for headless inspection: a camera, a folder of images, a video file.

Each yields (name, RGB frame). Unreadable images in a folder are skipped with a warning, so one
bad file does not stop a line.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from dinoad.errors import DinoadError, ImageError
from dinoad.images import SUPPORTED_EXTENSIONS, frame_to_rgb, load_image
from dinoad.video import read_frames

log = logging.getLogger(__name__)


def folder_frames(folder: Path) -> Iterator[tuple[str, np.ndarray]]:
    folder = Path(folder)
    if not folder.is_dir():
        raise DinoadError(f"{folder} is not a folder; give a folder of image files")
    for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in SUPPORTED_EXTENSIONS):
        try:
            yield path.name, load_image(path)
        except ImageError as exc:
            log.warning("skipped %s", exc)


def video_frames(path: Path) -> Iterator[tuple[str, np.ndarray]]:
    if not Path(path).is_file():
        raise DinoadError(f"video {path} does not exist")
    try:
        for number, rgb in enumerate(read_frames(path), start=1):
            yield f"{Path(path).name}#{number}", rgb
    except OSError as exc:
        raise DinoadError(f"{exc}; give a video file OpenCV can read (mp4, avi, y4m)") from exc


def camera_frames(index: int) -> Iterator[tuple[str, np.ndarray]]:
    capture = cv2.VideoCapture(index)
    if not capture.isOpened():
        raise DinoadError(f"camera {index} cannot be opened; check the cable and that no other program uses it")
    try:
        number = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                raise DinoadError(f"camera {index} stopped delivering frames")
            number += 1
            yield f"camera{index}#{number}", frame_to_rgb(frame, "BGR")
    finally:
        capture.release()
