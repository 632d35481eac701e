import io

import cv2
import numpy as np
import pytest
from PIL import Image

from dinoad import images
from dinoad.errors import ImageError
from dinoad.images import decode_image, encode_png, frame_to_rgb, load_image, save_png


def _pil_bytes(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


@pytest.fixture
def colourful() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)


def test_png_round_trip_is_exact_rgb(tmp_path, colourful):
    path = tmp_path / "a.png"
    save_png(path, colourful)
    assert np.array_equal(load_image(path), colourful)
    # The file itself is a standard PNG in BGR order on disk, as OpenCV would write it.
    assert np.array_equal(cv2.imread(str(path))[:, :, ::-1], colourful)


def test_grayscale_rgba_palette_and_16_bit_become_rgb(tmp_path, colourful):
    gray = Image.fromarray(colourful[:, :, 0])
    rgba = Image.fromarray(np.dstack([colourful, np.full(colourful.shape[:2], 128, np.uint8)]), "RGBA")
    palette = Image.fromarray(colourful).convert("P")
    sixteen = Image.fromarray(colourful[:, :, 0].astype(np.uint16) * 257)
    for name, image in {"gray": gray, "rgba": rgba, "palette": palette, "sixteen": sixteen}.items():
        rgb = decode_image(_pil_bytes(image, "PNG"), name)
        assert rgb.shape == (40, 60, 3) and rgb.dtype == np.uint8, name
    assert np.array_equal(decode_image(_pil_bytes(gray, "PNG"))[:, :, 1], colourful[:, :, 0])
    assert np.array_equal(decode_image(_pil_bytes(sixteen, "PNG"))[:, :, 0], colourful[:, :, 0])
    assert np.array_equal(decode_image(_pil_bytes(rgba, "PNG")), colourful)


def test_exif_rotation_is_applied():
    upright = np.zeros((20, 40, 3), np.uint8)
    image = Image.fromarray(upright)
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    rgb = decode_image(_pil_bytes(image, "JPEG", exif=exif.tobytes()))
    assert rgb.shape == (40, 20, 3)


def test_empty_text_truncated_and_unsupported_files_give_clear_errors(tmp_path, colourful):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    text = tmp_path / "notes.png"
    text.write_text("hello")
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(_pil_bytes(Image.fromarray(colourful), "JPEG")[:200])
    gif = tmp_path / "anim.gif"
    gif.write_bytes(b"GIF89a")
    cases = {empty: "empty", text: "not a recognised image", truncated: "damaged", gif: "unsupported file type"}
    for path, words in cases.items():
        with pytest.raises(ImageError) as error:
            load_image(path)
        assert path.name in str(error.value) and words in str(error.value)
    with pytest.raises(ImageError, match="cannot read"):
        load_image(tmp_path / "missing.png")


def test_tiny_and_huge_images_are_refused(monkeypatch):
    with pytest.raises(ImageError, match="too small"):
        decode_image(encode_png(np.zeros((1, 1, 3), np.uint8)), "dot.png")
    monkeypatch.setattr(images, "MAX_IMAGE_PIXELS", 100 * 100)
    with pytest.raises(ImageError, match="too large"):
        decode_image(encode_png(np.zeros((200, 200, 3), np.uint8)), "big.png")


def test_frame_to_rgb_converts_every_camera_layout(colourful):
    bgr = colourful[:, :, ::-1].copy()
    assert np.array_equal(frame_to_rgb(bgr, "BGR"), colourful)
    assert np.array_equal(frame_to_rgb(colourful), colourful)
    bgra = np.dstack([bgr, np.zeros(colourful.shape[:2], np.uint8)])
    assert np.array_equal(frame_to_rgb(bgra, "BGR"), colourful)
    gray = frame_to_rgb(colourful[:, :, 0])
    assert gray.shape == (40, 60, 3) and np.array_equal(gray[:, :, 2], colourful[:, :, 0])
    assert np.array_equal(frame_to_rgb(colourful.astype(np.uint16) << 8), colourful)
    assert np.array_equal(frame_to_rgb(colourful.astype(np.float32) / 255.0), colourful)
    for bad in (np.zeros((4, 4, 2), np.uint8), np.zeros((0, 3), np.uint8), "frame"):
        with pytest.raises(ImageError):
            frame_to_rgb(bad)
