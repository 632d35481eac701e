import numpy as np
import pytest

from dinoad.video import encode_y4m, read_frames, write_mp4, write_y4m


def _frames(count: int = 3) -> list[np.ndarray]:
    return [np.full((48, 64, 3), 40 * index, np.uint8) for index in range(count)]


def test_y4m_has_the_header_and_one_420_frame_each():
    data = encode_y4m(_frames(), fps=10)
    header, _, rest = data.partition(b"\n")
    assert header == b"YUV4MPEG2 W64 H48 F10:1 Ip A1:1 C420jpeg"
    frame_bytes = 64 * 48 * 3 // 2
    assert len(rest) == 3 * (len(b"FRAME\n") + frame_bytes)
    assert rest.count(b"FRAME\n") >= 3


def test_y4m_and_mp4_read_back(tmp_path):
    write_y4m(tmp_path / "clip.y4m", _frames(), 10)
    write_mp4(tmp_path / "clip.mp4", _frames(), 10)
    for name in ("clip.y4m", "clip.mp4"):
        frames = list(read_frames(tmp_path / name))
        assert len(frames) == 3, name
        assert frames[2].shape == (48, 64, 3)
        assert abs(float(frames[2].mean()) - 80) < 6, name  # lossy codecs: compare with a tolerance


def test_odd_sizes_and_unreadable_videos_are_refused(tmp_path):
    with pytest.raises(ValueError, match="even"):
        encode_y4m([np.zeros((47, 64, 3), np.uint8)], 10)
    with pytest.raises(OSError, match="cannot open"):
        list(read_frames(tmp_path / "missing.mp4"))
