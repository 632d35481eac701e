import cv2
import numpy as np

from dinoad.capture_checks import (
    BLUR_MIN_VARIANCE,
    NEAR_DUPLICATE_MAX_DIFFERENCE,
    check_frame,
    sharpness,
    thumbnail,
)
from dinoad.demo import generate_scene


def test_sharp_well_exposed_new_frame_passes():
    frame = generate_scene("good", 0)[0]
    others = [thumbnail(generate_scene("good", i)[0]) for i in range(1, 4)]
    result = check_frame(frame, others)
    assert result.ok, result.warnings
    assert result.sharpness > BLUR_MIN_VARIANCE
    assert result.closest_difference > NEAR_DUPLICATE_MAX_DIFFERENCE


def test_blurred_frame_warns_about_focus():
    frame = cv2.GaussianBlur(generate_scene("good", 0)[0], (0, 0), 3)
    result = check_frame(frame)
    assert any("blurry" in w for w in result.warnings)
    assert sharpness(frame) < sharpness(generate_scene("good", 0)[0])


def test_background_frames_skip_the_blur_check():
    empty = generate_scene("background", 0)[0]
    assert any("blurry" in w for w in check_frame(empty).warnings)  # plain scenes have no texture
    assert check_frame(empty, check_blur=False).ok


def test_over_and_under_exposure_are_reported():
    frame = generate_scene("good", 0)[0]
    bright = np.clip(frame.astype(np.int32) + 160, 0, 255).astype(np.uint8)
    dark = (frame // 8).astype(np.uint8)
    assert any("over-exposed" in w for w in check_frame(bright).warnings)
    assert any("under-exposed" in w for w in check_frame(dark).warnings)
    assert not any("exposed" in w for w in check_frame(frame).warnings)


def test_recompressed_copy_is_a_near_duplicate():
    frame = generate_scene("spot", 2)[0]
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 70])
    assert ok
    copy = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    result = check_frame(copy, [thumbnail(frame)])
    assert any("nearly identical" in w for w in result.warnings)
    assert result.closest_difference < NEAR_DUPLICATE_MAX_DIFFERENCE


def test_large_frames_are_measured_at_a_capped_size():
    frame = generate_scene("good", 0)[0]
    big = cv2.resize(frame, None, fx=8, fy=8, interpolation=cv2.INTER_NEAREST)  # 2560 px wide
    assert sharpness(big) > 0
    assert check_frame(big).mean_level == check_frame(frame).mean_level
