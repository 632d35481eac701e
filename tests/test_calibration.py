"""Threshold methods and separation reporting, checked against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from dinoad.calibration import (
    MIN_MEANINGFUL_IMAGES,
    CalibrationError,
    choose_threshold,
    f1_threshold,
    separation,
)
from dinoad.config import ProjectConfig
from dinoad.errors import ConfigError, DinoadError


def config(**changes) -> ProjectConfig:
    return ProjectConfig(shots=5, **changes)


def linear_percentile(values, q: float) -> float:
    """Percentile with linear interpolation between closest ranks, written out by hand."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    below = int(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


GOOD = [0.10, 0.12, 0.15, 0.11, 0.13, 0.14]
DEFECT = [0.40, 0.55, 0.30, 0.62, 0.48]


def f1_by_hand(good, defect, threshold) -> float:
    tp = sum(s >= threshold for s in defect)
    fp = sum(s >= threshold for s in good)
    fn = len(defect) - tp
    return 2 * tp / (2 * tp + fp + fn)


def test_hybrid_is_midway_between_good_p99_and_lowest_defect():
    choice = choose_threshold(GOOD, DEFECT, config())
    p99 = linear_percentile(GOOD, 99)
    assert p99 == pytest.approx(0.1495)  # 0.14 + 0.95 * (0.15 - 0.14)
    assert choice.threshold == pytest.approx((p99 + 0.30) / 2)
    assert choice.method_used == "hybrid"
    assert choice.good_reference == pytest.approx(p99)
    assert choice.defect_reference == pytest.approx(0.30)
    assert not choice.separation.overlap
    assert choice.notes == []


def test_hybrid_defect_quantile_ignores_one_outlier_defect():
    defects = [0.05] + [0.5 + 0.01 * i for i in range(19)]  # one defect scores below every good part
    choice = choose_threshold(GOOD, defects, config(defect_quantile=0.05))
    quantile = linear_percentile(defects, 5)
    assert quantile > 0.05
    assert choice.threshold == pytest.approx((linear_percentile(GOOD, 99) + quantile) / 2)
    plain = choose_threshold(GOOD, defects, config())
    assert plain.threshold == pytest.approx((linear_percentile(GOOD, 99) + 0.05) / 2)


def test_defect_quantile_with_few_defects_warns():
    choice = choose_threshold(GOOD, DEFECT, config(defect_quantile=0.05))
    assert any("defect_quantile" in w for w in choice.warnings)


def test_f1_threshold_separable_sits_in_the_gap():
    threshold = f1_threshold(GOOD, DEFECT)
    assert threshold == pytest.approx((0.15 + 0.30) / 2)
    assert f1_by_hand(GOOD, DEFECT, threshold) == 1.0


def test_f1_threshold_is_the_best_over_every_possible_cut():
    rng = np.random.default_rng(3)
    good = rng.normal(0.2, 0.05, 30).tolist()
    defect = rng.normal(0.27, 0.05, 12).tolist()
    threshold = choose_threshold(good, defect, config(threshold_method="f1")).threshold
    best = max(f1_by_hand(good, defect, t) for t in good + defect)
    assert f1_by_hand(good, defect, threshold) == pytest.approx(best)


def test_good_percentile_is_percentile_times_margin():
    choice = choose_threshold(GOOD, DEFECT, config(threshold_method="good_percentile", good_percentile=95,
                                                   good_margin=1.2))
    assert choice.threshold == pytest.approx(linear_percentile(GOOD, 95) * 1.2)
    assert choice.method_used == "good_percentile"


@pytest.mark.parametrize("method", ["hybrid", "f1"])
def test_no_defects_falls_back_to_good_percentile_and_says_so(method):
    choice = choose_threshold(GOOD, [], config(threshold_method=method))
    assert choice.method == method
    assert choice.method_used == "good_percentile"
    assert choice.threshold == pytest.approx(linear_percentile(GOOD, 99) * 1.1)
    assert choice.threshold > max(GOOD) * 0.99  # never the minimum score
    assert any("fell back" in note for note in choice.notes)
    assert any("test/defect" in w for w in choice.warnings)
    assert choice.separation.overlap is None


@pytest.mark.parametrize("method", ["hybrid", "f1", "good_percentile"])
def test_one_defect(method):
    choice = choose_threshold(GOOD, [0.5], config(threshold_method=method))
    if method == "hybrid":
        assert choice.threshold == pytest.approx((linear_percentile(GOOD, 99) + 0.5) / 2)
    if method == "f1":
        assert choice.threshold == pytest.approx((0.15 + 0.5) / 2)
    assert choice.separation.gap == pytest.approx(0.5 - 0.15)
    assert any("only 1 test/defect" in w for w in choice.warnings)


def test_overlapping_scores_are_reported_and_a_threshold_is_still_given():
    good = [0.1, 0.2, 0.3, 0.45]
    defect = [0.25, 0.5, 0.6]
    choice = choose_threshold(good, defect, config())
    assert choice.separation.overlap is True
    assert choice.separation.gap == pytest.approx(0.25 - 0.45)
    assert choice.separation.good_above_min_defect == 2  # 0.3 and 0.45 >= 0.25
    assert choice.separation.defect_below_max_good == 1  # 0.25 <= 0.45
    assert choice.separation.quality == "poor"
    assert any("overlap" in w for w in choice.warnings)
    assert choice.threshold == pytest.approx((linear_percentile(good, 99) + 0.25) / 2)
    f1_choice = choose_threshold(good, defect, config(threshold_method="f1"))
    best = max(f1_by_hand(good, defect, t) for t in good + defect)
    assert f1_by_hand(good, defect, f1_choice.threshold) == pytest.approx(best)


@pytest.mark.parametrize("method", ["hybrid", "f1", "good_percentile"])
def test_identical_scores(method):
    scores = [0.3] * 6
    choice = choose_threshold(scores, scores[:5], config(threshold_method=method))
    assert np.isfinite(choice.threshold)
    assert choice.separation.gap == 0.0
    assert choice.separation.overlap is True
    if method == "hybrid":
        assert choice.threshold == pytest.approx(0.3)
    if method == "f1":
        # The only cut that finds any defect calls everything NOK (F1 = 10/16 > 0).
        assert choice.threshold == pytest.approx(0.3)
    if method == "good_percentile":
        assert choice.threshold == pytest.approx(0.33)


def test_manual_uses_the_users_value_and_needs_one():
    choice = choose_threshold(GOOD, DEFECT, config(threshold_method="manual", manual_threshold=0.2))
    assert choice.threshold == 0.2 and choice.method_used == "manual"
    assert choose_threshold([], [], config(threshold_method="manual", manual_threshold=0.2)).threshold == 0.2
    with pytest.raises(CalibrationError, match="manual threshold"):
        choose_threshold(GOOD, DEFECT, config(threshold_method="manual"))


def test_no_good_scores_is_an_error_that_says_what_to_capture():
    with pytest.raises(CalibrationError, match="test/good") as info:
        choose_threshold([], DEFECT, config())
    assert isinstance(info.value, DinoadError)


def test_non_finite_scores_are_refused():
    with pytest.raises(CalibrationError):
        choose_threshold([0.1, float("nan")], DEFECT, config())


def test_too_few_images_warn_with_what_to_capture():
    choice = choose_threshold(GOOD[:2], DEFECT[:3], config())
    text = " ".join(choice.warnings)
    assert f"Capture at least {MIN_MEANINGFUL_IMAGES - 2} more good" in text
    assert f"Capture at least {MIN_MEANINGFUL_IMAGES - 3} more defective" in text
    enough = choose_threshold(GOOD, DEFECT, config())
    assert enough.warnings == []


@pytest.mark.parametrize(("gap", "quality"), [(0.2, "excellent"), (0.07, "good"), (0.01, "fair"), (-0.1, "poor")])
def test_quality_bands(gap, quality):
    spread = separation([0.1, 0.2], [0.2 + gap, 0.9])
    assert spread.gap == pytest.approx(gap)
    assert spread.quality == quality


@pytest.mark.parametrize("changes", [
    {"defect_quantile": 0.5}, {"defect_quantile": -0.1}, {"good_percentile": 20}, {"good_margin": 0},
    {"background_method": "magic"}, {"background_k": 0}, {"background_margin": -1},
    {"min_object_fraction": 0}, {"min_object_fraction": 1.5}, {"manual_threshold": float("nan")},
    {"validation_metrics": [1, 2]},
])
def test_new_settings_are_validated(changes):
    with pytest.raises(ConfigError):
        ProjectConfig(**changes)
