import cv2
import numpy as np
import pytest

from dinoad.scoring import Verdict, anomaly_map, decide, image_score


def test_max_and_top_one_percent_mean():
    patches = np.arange(400, dtype=np.float32).reshape(20, 20)
    assert image_score(patches, "max") == 399.0
    assert image_score(patches, "top1p_mean") == pytest.approx(np.mean([396, 397, 398, 399]))
    small = np.array([[0.1, 0.5], [0.2, 0.3]], np.float32)
    assert image_score(small, "top1p_mean") == pytest.approx(0.5)  # at least one patch
    with pytest.raises(ValueError, match="max or top1p_mean"):
        image_score(small, "median")


def test_anomaly_map_is_upsampled_then_blurred_in_raw_units():
    patches = np.zeros((8, 8), np.float32)
    patches[3, 4] = 0.8
    raw = anomaly_map(patches, 128, sigma=0)
    assert raw.shape == (128, 128) and raw.dtype == np.float32
    assert np.array_equal(raw, cv2.resize(patches, (128, 128), interpolation=cv2.INTER_LINEAR))
    smooth = anomaly_map(patches, 128, sigma=4)
    assert smooth.max() < raw.max()  # smoothing spreads the peak, never rescales it upward
    peak = np.unravel_index(np.argmax(smooth), smooth.shape)
    assert abs(peak[0] - 3.5 * 16) <= 8 and abs(peak[1] - 4.5 * 16) <= 8
    assert anomaly_map(np.full((8, 8), 0.3, np.float32), 64, 4).max() == pytest.approx(0.3, abs=1e-6)


def test_verdicts():
    assert decide(0.5, None, None) is None
    assert decide(0.5, 0.4, None) is Verdict.NOK
    assert decide(0.4, 0.4, None) is Verdict.NOK
    assert decide(0.39, 0.4, None) is Verdict.OK
    assert decide(0.2, 0.4, (0.15, 0.25)) is Verdict.NO_PART
    assert decide(0.2, None, (0.15, 0.25)) is Verdict.NO_PART
