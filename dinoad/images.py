"""Reading image files and camera frames into RGB uint8 arrays, and writing PNGs."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from dinoad.errors import ImageError
from dinoad.storage import write_bytes_atomic

SUPPORTED_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
# Far above any camera (a 50 MP sensor is 8160x6120) yet refuses decompression bombs.
MAX_IMAGE_PIXELS = 64_000_000
MIN_IMAGE_SIDE = 16


def load_image(path: Path) -> np.ndarray:
    """Read an image file as an (H, W, 3) RGB uint8 array, upright per its EXIF orientation."""
    path = Path(path)
    if path.suffix.lower() not in SUPPORTED_EXTENSIONS:
        raise ImageError(
            f"{path.name}: unsupported file type {path.suffix or '(none)'}; "
            f"use one of {', '.join(SUPPORTED_EXTENSIONS)}"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageError(f"{path.name}: cannot read the file ({exc.strerror or exc})") from exc
    return decode_image(data, path.name)


def decode_image(data: bytes, name: str = "image") -> np.ndarray:
    """Decode encoded image bytes (PNG, JPEG, ...) to an (H, W, 3) RGB uint8 array."""
    if not data:
        raise ImageError(f"{name}: the file is empty (0 bytes); capture or export it again")
    try:
        with warnings.catch_warnings():
            # Pillow warns about large images at open; our own limit below refuses them with a message.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
        with img:
            width, height = img.size
            if width * height > MAX_IMAGE_PIXELS:
                raise ImageError(
                    f"{name}: {width}x{height} pixels is too large (limit {MAX_IMAGE_PIXELS:,} "
                    "pixels); downscale it first"
                )
            img.load()
            img = ImageOps.exif_transpose(img)
            rgb = _pil_to_rgb(img)
    except ImageError:
        raise
    except UnidentifiedImageError as exc:
        raise ImageError(f"{name}: not a recognised image format; export it as PNG or JPEG") from exc
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageError(f"{name}: the image data is damaged ({exc}); capture or export it again") from exc
    _check_size(rgb, name)
    return rgb


def _check_size(rgb: np.ndarray, name: str) -> None:
    if min(rgb.shape[:2]) < MIN_IMAGE_SIDE:
        raise ImageError(
            f"{name}: {rgb.shape[1]}x{rgb.shape[0]} pixels is too small; "
            f"images need at least {MIN_IMAGE_SIDE} pixels per side"
        )


def _pil_to_rgb(img: Image.Image) -> np.ndarray:
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # 16-bit and float grayscale: Pillow's convert("RGB") would clip, so rescale ourselves.
        values = np.asarray(img, dtype=np.float64)
        top = 65535.0 if values.max(initial=0) > 255 else 255.0
        gray = np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))


def frame_to_rgb(frame: np.ndarray, channel_order: str = "RGB") -> np.ndarray:
    """Convert a camera frame (gray, BGR, RGB, BGRA or RGBA; any integer depth) to RGB uint8."""
    if not isinstance(frame, np.ndarray) or frame.ndim not in (2, 3) or frame.size == 0:
        raise ImageError(f"expected an image array (H, W[, C]), got {getattr(frame, 'shape', type(frame))}")
    if frame.dtype != np.uint8:
        if frame.dtype == np.uint16:
            frame = (frame >> 8).astype(np.uint8)
        elif np.issubdtype(frame.dtype, np.floating):
            frame = (np.clip(frame, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        else:
            raise ImageError(f"unsupported frame pixel type {frame.dtype}")
    _check_size(frame, "camera frame")
    if frame.ndim == 2 or frame.shape[2] == 1:
        return cv2.cvtColor(frame.reshape(frame.shape[:2]), cv2.COLOR_GRAY2RGB)
    channels = frame.shape[2]
    order = channel_order.upper()
    conversions = {
        ("RGB", 3): None,
        ("BGR", 3): cv2.COLOR_BGR2RGB,
        ("RGB", 4): cv2.COLOR_RGBA2RGB,
        ("BGR", 4): cv2.COLOR_BGRA2RGB,
    }
    if (order, channels) not in conversions:
        raise ImageError(f"unsupported frame layout: {channels} channels in {channel_order} order")
    code = conversions[(order, channels)]
    return np.ascontiguousarray(frame) if code is None else cv2.cvtColor(frame, code)


def encode_png(rgb: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ImageError("could not encode the image as PNG")
    return buffer.tobytes()


def save_png(path: Path, rgb: np.ndarray) -> None:
    """Write an RGB uint8 image as PNG atomically."""
    write_bytes_atomic(Path(path), encode_png(rgb))
