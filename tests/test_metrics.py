"""Metrics against numbers computed independently here (pair counting, hand formulas, known tables)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from dinoad.metrics import (
    REPORTED_PERCENTILES,
    Rate,
    average_precision,
    confusion_counts,
    image_auroc,
    pixel_auroc,
    prepare_mask,
    roc_points,
    score_statistics,
    threshold_metrics,
    threshold_sweep,
    wilson_interval,
)

GOOD = [0.10, 0.22, 0.15, 0.31, 0.12, 0.18, 0.27]
DEFECT = [0.29, 0.55, 0.20, 0.61, 0.48]


# Published 95 % Wilson intervals (e.g. Newcombe 1998, Table I; Brown, Cai & DasGupta 2001).
@pytest.mark.parametrize(("successes", "trials", "low", "high"), [
    (0, 10, 0.0, 0.2775),
    (1, 10, 0.0179, 0.4042),
    (5, 10, 0.2366, 0.7634),
    (8, 10, 0.4902, 0.9433),
    (10, 10, 0.7225, 1.0),
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
])
def test_wilson_interval_matches_published_values(successes, trials, low, high):
    interval = wilson_interval(successes, trials)
    assert interval is not None
    assert interval[0] == pytest.approx(low, abs=5e-5)
    assert interval[1] == pytest.approx(high, abs=5e-5)


def test_wilson_interval_edge_cases():
    assert wilson_interval(0, 0) is None
    with pytest.raises(ValueError):
        wilson_interval(3, 2)
    rate = Rate.of(0, 0)
    assert rate.value is None and rate.low is None and rate.trials == 0


def test_confusion_counts_by_hand():
    threshold = 0.25
    counts = confusion_counts(GOOD, DEFECT, threshold)
    assert counts.tp == 4  # 0.29 0.55 0.61 0.48
    assert counts.fn == 1  # 0.20
    assert counts.fp == 2  # 0.31 0.27
    assert counts.tn == 5
    # A score equal to the threshold is NOK.
    assert confusion_counts([0.3], [0.3], 0.3).fp == 1
    assert confusion_counts([0.3], [0.3], 0.3).tp == 1


def test_threshold_metrics_rates_and_intervals():
    metrics = threshold_metrics(GOOD, DEFECT, 0.25)
    tp, tn, fp, fn = 4, 5, 2, 1
    assert metrics.accuracy.value == pytest.approx((tp + tn) / 12)
    assert metrics.precision.value == pytest.approx(tp / (tp + fp))
    assert metrics.recall.value == pytest.approx(tp / (tp + fn))
    assert metrics.specificity.value == pytest.approx(tn / (tn + fp))
    assert metrics.fpr.value == pytest.approx(fp / (fp + tn))
    assert metrics.fnr.value == pytest.approx(fn / (fn + tp))
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    assert metrics.f1 == pytest.approx(2 * precision * recall / (precision + recall))
    for rate in (metrics.accuracy, metrics.precision, metrics.recall, metrics.fpr, metrics.fnr):
        assert rate.low <= rate.value <= rate.high
        assert (rate.low, rate.high) == wilson_interval(rate.successes, rate.trials)
    data = metrics.to_dict()
    assert data["counts"] == {"tp": 4, "tn": 5, "fp": 2, "fn": 1}
    assert data["recall"]["trials"] == 5


def test_metrics_without_defects_leave_defect_rates_empty():
    metrics = threshold_metrics(GOOD, [], 0.25)
    assert metrics.recall.value is None and metrics.fnr.value is None
    assert metrics.precision.value == 0.0  # 2 false alarms, no true positives
    assert metrics.fpr.value == pytest.approx(2 / 7)


def auroc_by_pairs(good, defect) -> float:
    wins = sum(1.0 if d > g else 0.5 if d == g else 0.0 for g, d in itertools.product(good, defect))
    return wins / (len(good) * len(defect))


def ap_by_hand(good, defect) -> float:
    """AP = sum over distinct thresholds (descending) of (R_n - R_{n-1}) * P_n."""
    total, previous_recall = 0.0, 0.0
    for threshold in sorted(set(good) | set(defect), reverse=True):
        tp = sum(d >= threshold for d in defect)
        fp = sum(g >= threshold for g in good)
        recall = tp / len(defect)
        total += (recall - previous_recall) * tp / (tp + fp)
        previous_recall = recall
    return total


def test_auroc_and_average_precision_against_hand_computation():
    assert image_auroc(GOOD, DEFECT) == pytest.approx(auroc_by_pairs(GOOD, DEFECT))
    assert average_precision(GOOD, DEFECT) == pytest.approx(ap_by_hand(GOOD, DEFECT))
    tied = [0.2, 0.3, 0.3]
    assert image_auroc([0.1, 0.3], tied) == pytest.approx(auroc_by_pairs([0.1, 0.3], tied))
    assert image_auroc(GOOD, []) is None and average_precision([], DEFECT) is None


def test_roc_points_end_at_corners_and_have_no_infinity():
    points = roc_points(GOOD, DEFECT)
    assert points["fpr"][0] == 0.0 and points["tpr"][-1] == 1.0
    assert all(t is None or math.isfinite(t) for t in points["threshold"])


def test_score_statistics_by_hand():
    values = [0.3, 0.1, 0.4, 0.2, 0.9]
    stats = score_statistics(values)
    ordered = sorted(values)
    mean = sum(values) / 5
    assert stats["count"] == 5
    assert stats["min"] == 0.1 and stats["max"] == 0.9
    assert stats["mean"] == pytest.approx(mean)
    assert stats["median"] == pytest.approx(0.3)
    assert stats["std"] == pytest.approx(math.sqrt(sum((v - mean) ** 2 for v in values) / 4))
    for q in REPORTED_PERCENTILES:
        position = 4 * q / 100
        below = int(position)
        expected = ordered[below] + (ordered[min(below + 1, 4)] - ordered[below]) * (position - below)
        assert stats["percentiles"][f"p{q}"] == pytest.approx(expected)
    assert score_statistics([0.5])["std"] == 0.0
    assert score_statistics([]) == {"count": 0}


def test_threshold_sweep_matches_point_metrics():
    rows = threshold_sweep(GOOD, DEFECT, points=11)
    assert len(rows) == 11
    assert rows[0]["threshold"] == min(GOOD + DEFECT) and rows[-1]["threshold"] == max(GOOD + DEFECT)
    middle = rows[5]
    assert middle["f1"] == pytest.approx(threshold_metrics(GOOD, DEFECT, middle["threshold"]).f1)
    assert rows[0]["recall"] == 1.0
    assert len(threshold_sweep([0.2, 0.2], [0.2])) == 1


def test_pixel_auroc_against_pair_counting():
    rng = np.random.default_rng(0)
    truth = np.zeros((6, 6), bool)
    truth[2:4, 1:5] = True
    maps = [rng.random((6, 6)) + truth * 0.4, rng.random((6, 6))]
    masks = [truth, np.zeros((6, 6), bool)]
    positives = np.concatenate([m[k] for m, k in zip(maps, masks, strict=True)])
    negatives = np.concatenate([m[~k] for m, k in zip(maps, masks, strict=True)])
    expected = auroc_by_pairs(negatives.tolist(), positives.tolist())
    assert pixel_auroc(maps, masks) == pytest.approx(expected, abs=1e-6)
    assert pixel_auroc([maps[1]], [masks[1]]) is None  # no defect pixel at all


def test_prepare_mask_resizes_rgb_masks_like_the_image():
    mask = np.zeros((20, 40, 3), np.uint8)
    mask[:, 20:] = 255  # right half is defect
    square = prepare_mask(mask, 8)
    assert square.shape == (8, 8)
    assert square[:, 4:].all() and not square[:, :4].any()
