import numpy as np

from dinoad.overlay import colour_scale_max, colourise, heatmap_overlay


def test_scale_is_twice_the_threshold_and_falls_back_to_the_map_maximum():
    heat = np.array([[0.1, 0.7]], np.float32)
    assert colour_scale_max(0.3, heat) == 0.6
    assert colour_scale_max(None, heat) == np.float32(0.7)


def test_a_map_below_the_threshold_stays_cool_and_above_turns_red():
    threshold = 0.3
    scale = colour_scale_max(threshold, np.zeros(1))
    cool = colourise(np.full((4, 4), threshold * 0.95, np.float32), scale)
    hot = colourise(np.full((4, 4), threshold * 1.9, np.float32), scale)
    # JET below mid-scale has more blue than red; near the top it is red.
    assert (cool[..., 2].astype(int) > cool[..., 0].astype(int)).all()
    assert (hot[..., 0] > 150).all() and (hot[..., 1] < 60).all() and (hot[..., 2] < 60).all()
    # The scale is fixed: the same value gets the same colour whatever else is in the map.
    mixed = colourise(np.array([[threshold * 0.95, threshold * 5]], np.float32), scale)
    assert np.array_equal(mixed[0, 0], cool[0, 0])


def test_overlay_keeps_the_image_size_and_outlines_regions_above_threshold():
    rgb = np.full((60, 80, 3), 128, np.uint8)
    heat = np.zeros((32, 32), np.float32)
    heat[10:20, 10:20] = 1.0
    with_contour = heatmap_overlay(rgb, heat, 2.0, threshold=0.5)
    without = heatmap_overlay(rgb, heat, 2.0, threshold=None)
    assert with_contour.shape == rgb.shape
    white = (with_contour == 255).all(axis=2)
    assert white.any() and not (without == 255).all(axis=2).any()
