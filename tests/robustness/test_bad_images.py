"""Every kind of bad or unusual image file, through the user's import path: a clear message for
what cannot be used, the rest imported, nothing already in the project lost."""

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dinoad.demo import generate_scene
from dinoad.images import load_image

PART = generate_scene("good", 0)[0]


def _save(image: Image.Image, path: Path, fmt: str, **options) -> Path:
    image.save(path, fmt, **options)
    return path


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG that announces width x height (a decompression bomb) without the pixel data."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


def _bad_files(folder: Path) -> dict[str, tuple[Path, str]]:
    folder.mkdir()
    jpeg = io.BytesIO()
    Image.fromarray(PART).save(jpeg, "JPEG")
    files = {
        "zero bytes": (folder / "empty.png", "empty"),
        "truncated JPEG": (folder / "cut.jpg", "damaged"),
        "truncated PNG": (folder / "cut.png", "damaged"),
        "text named .png": (folder / "notes.png", "not a recognised image format"),
        "1x1 pixel": (folder / "dot.png", "too small"),
        "12000x12000": (folder / "bomb.png", "too large"),
        "animated GIF": (folder / "anim.gif", "unsupported file type"),
        "unsupported extension": (folder / "part.heic", "unsupported file type"),
    }
    files["zero bytes"][0].write_bytes(b"")
    files["truncated JPEG"][0].write_bytes(jpeg.getvalue()[:300])
    png = io.BytesIO()
    Image.fromarray(PART).save(png, "PNG")
    files["truncated PNG"][0].write_bytes(png.getvalue()[:500])
    files["text named .png"][0].write_text("lighting notes")
    _save(Image.new("RGB", (1, 1)), files["1x1 pixel"][0], "PNG")
    _png_header_only(files["12000x12000"][0], 12000, 12000)
    frames = [Image.fromarray(generate_scene("good", i)[0]) for i in range(3)]
    frames[0].save(files["animated GIF"][0], "GIF", save_all=True, append_images=frames[1:])
    files["unsupported extension"][0].write_bytes(png.getvalue())
    return files


def _unusual_but_valid(folder: Path) -> dict[str, Path]:
    folder.mkdir()
    upright = Image.fromarray(PART)
    exif = upright.getexif()
    exif[0x0112] = 6
    return {
        "16-bit PNG": _save(Image.fromarray(PART[:, :, 0].astype(np.uint16) * 257), folder / "deep.png", "PNG"),
        "palette PNG": _save(upright.convert("P"), folder / "palette.png", "PNG"),
        "grayscale": _save(upright.convert("L"), folder / "gray.png", "PNG"),
        "RGBA": _save(upright.convert("RGBA"), folder / "alpha.png", "PNG"),
        "CMYK JPEG": _save(upright.convert("CMYK"), folder / "print.jpg", "JPEG"),
        "EXIF-rotated JPEG": _save(upright, folder / "rotated.jpg", "JPEG", exif=exif.tobytes()),
    }


def test_bad_files_are_rejected_with_reasons_and_nothing_is_lost(store, tmp_path):
    project = store.create("p")
    kept = project.add_image("train/good", PART)
    files = _bad_files(tmp_path / "bad")
    report = project.import_files("train/good", [path for path, _ in files.values()])
    reasons = dict(report.rejected)
    assert not report.added
    for case, (path, words) in files.items():
        assert words in reasons[str(path)], case
        assert path.name in reasons[str(path)], case
    assert project.image_paths("train/good") == [kept]
    assert np.array_equal(load_image(kept), PART)
    assert not [p for p in kept.parent.iterdir() if p.name.startswith(".")]  # no temp files left


def test_unusual_formats_are_imported_upright_as_rgb(store, tmp_path):
    project = store.create("p")
    files = _unusual_but_valid(tmp_path / "odd")
    report = project.import_files("test/good", list(files.values()))
    assert not report.rejected and len(report.added) == len(files)
    by_name = {Path(path).name: load_image(path) for path in report.added}
    for image in by_name.values():
        assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8
    rotated = load_image(files["EXIF-rotated JPEG"])
    assert rotated.shape[:2] == PART.shape[1::-1]
    cmyk = load_image(files["CMYK JPEG"]).astype(int)
    assert np.abs(cmyk.mean(axis=(0, 1)) - PART.mean(axis=(0, 1))).max() < 12


@pytest.mark.parametrize("shape", [(2, 2, 3), (480, 640, 2), (480, 640, 5)])
def test_camera_frames_of_unexpected_shape_give_an_image_error(shape):
    from dinoad.errors import ImageError
    from dinoad.images import frame_to_rgb

    with pytest.raises(ImageError):
        frame_to_rgb(np.zeros(shape, np.uint8))
