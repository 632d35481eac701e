"""Training writes the validation report; every number is re-derived here from the raw scores."""

from __future__ import annotations

import itertools
import json
import math
import re

import numpy as np
import pytest

from dinoad.charts import validation_charts
from dinoad.cli import main
from dinoad.demo import DEFECT_KINDS, generate_scene
from dinoad.images import save_png
from dinoad.metrics import prepare_map, prepare_mask
from dinoad.pipeline import Inspector, train
from dinoad.report import (
    BACKGROUND_BASELINE_FILE,
    HTML_REPORT_FILE,
    RAW_SCORES_FILE,
    STATISTICS_FILE,
    THRESHOLD_VALIDATION_FILE,
    VAL_DIR,
    set_manual_threshold,
)


def read(path):
    return json.loads(path.read_text())


def percentile(values, q):
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    below = int(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def wilson(successes, trials, z=1.959963984540054):
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z / (1 + z * z / trials) * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials**2))
    return max(0.0, centre - half), min(1.0, centre + half)


def test_train_writes_every_file_with_numbers_that_match_the_raw_scores(make_project, tiny_backbone):
    project = make_project(train=5, test_good=6, defects=8, background=5)
    messages = []
    result = train(project, backbone=tiny_backbone, progress=lambda done, total, text: messages.append(text))
    for stage in ("background", "calibration", "report"):
        assert any(text.startswith(stage) for text in messages), stage

    val = project.results_dir / VAL_DIR
    raw = read(val / RAW_SCORES_FILE)
    stats = read(val / STATISTICS_FILE)
    assert raw["good"]["names"] == [p.name for p in project.image_paths("test/good")]
    assert raw["defect"]["scores"] == pytest.approx(result.evaluation.defect_scores)
    good, defect = raw["good"]["scores"], raw["defect"]["scores"]

    threshold = (percentile(good, 99) + min(defect)) / 2  # hybrid, by hand
    assert stats["threshold"] == pytest.approx(threshold)
    assert stats["method_used"] == "hybrid"
    tp = sum(s >= threshold for s in defect)
    fp = sum(s >= threshold for s in good)
    tn, fn = len(good) - fp, len(defect) - tp
    at = stats["metrics"]["at_threshold"]
    assert at["counts"] == {"tp": tp, "tn": tn, "fp": fp, "fn": fn}
    assert at["accuracy"]["value"] == pytest.approx((tp + tn) / (tp + tn + fp + fn))
    assert at["recall"]["value"] == pytest.approx(tp / (tp + fn))
    assert at["fpr"]["value"] == pytest.approx(fp / (fp + tn))
    assert (at["recall"]["low"], at["recall"]["high"]) == pytest.approx(wilson(tp, tp + fn))
    assert (at["fpr"]["low"], at["fpr"]["high"]) == pytest.approx(wilson(fp, fp + tn))
    assert at["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    pairs = sum(1.0 if d > g else 0.5 if d == g else 0.0 for g, d in itertools.product(good, defect))
    assert stats["metrics"]["image_auroc"] == pytest.approx(pairs / (len(good) * len(defect)))
    assert stats["metrics"]["pixel_auroc"] is None  # no masks in this project

    for label, scores in (("good", good), ("defect", defect)):
        block = stats["classes"][label]
        mean = sum(scores) / len(scores)
        assert block["count"] == len(scores)
        assert block["mean"] == pytest.approx(mean)
        assert block["std"] == pytest.approx(math.sqrt(sum((s - mean) ** 2 for s in scores) / (len(scores) - 1)))
        assert block["median"] == pytest.approx(percentile(scores, 50))
        assert block["percentiles"]["p95"] == pytest.approx(percentile(scores, 95))
        assert (block["min"], block["max"]) == (min(scores), max(scores))
    gap = min(defect) - max(good)
    assert stats["separation"]["gap"] == pytest.approx(gap)
    assert stats["separation"]["overlap"] == (gap <= 0)
    assert stats["separation"]["quality"] == ("excellent" if gap > 0.1 else "good" if gap > 0.05
                                              else "fair" if gap > 0 else "poor")

    validation = read(project.results_dir / THRESHOLD_VALIDATION_FILE)
    wrong = [f"good/{n}" for n, s in zip(raw["good"]["names"], good, strict=True) if s >= threshold]
    wrong += [f"defect/{n}" for n, s in zip(raw["defect"]["names"], defect, strict=True) if s < threshold]
    assert validation["misjudged"] == wrong
    assert set(validation["candidates"]) == {"hybrid", "f1", "good_percentile", "manual"}
    assert validation["candidates"]["good_percentile"]["threshold"] == pytest.approx(percentile(good, 99) * 1.1)
    assert validation["candidates"]["manual"]["threshold"] is None  # no manual value set yet
    assert read(project.results_dir / BACKGROUND_BASELINE_FILE)["enabled"]

    config = project.load_config()
    assert config.threshold == pytest.approx(threshold)
    assert config.validation_metrics["f1"] == pytest.approx(at["f1"])
    assert config.validation_metrics["recall"]["low"] == pytest.approx(at["recall"]["low"])

    pngs = sorted(p.stem for p in val.glob("*.png"))
    assert pngs == sorted(validation_charts([0.1], [0.2], 0.15))
    assert all((val / f"{name}.png").read_bytes().startswith(b"\x89PNG") for name in pngs)
    page = (val / HTML_REPORT_FILE).read_text()
    assert len(re.findall(r'src="data:image/png;base64,', page)) == len(pngs)
    assert "<script" not in page and not re.search(r'(src|href)="https?:', page)
    assert f"{threshold:.4f}" in page
    assert result.validation.files[-1] == val / HTML_REPORT_FILE


def test_no_defect_images_fall_back_and_say_what_to_capture(make_project, tiny_backbone):
    project = make_project(train=3, test_good=5, defects=0)
    result = train(project, backbone=tiny_backbone, export_png=False)
    stats = result.validation.statistics
    good = result.evaluation.good_scores
    assert stats["method_used"] == "good_percentile"
    assert stats["threshold"] == pytest.approx(percentile(good, 99) * 1.1)
    assert any("fell back" in note for note in stats["notes"])
    assert any("test/defect" in warning for warning in stats["warnings"])
    assert stats["metrics"]["image_auroc"] is None
    assert project.load_config().threshold == pytest.approx(stats["threshold"])


def test_without_test_good_images_there_is_no_threshold_but_a_clear_message(make_project, tiny_backbone):
    project = make_project(train=3, test_good=0, defects=3)
    project.save_config(project.load_config().replace(threshold=0.5))  # from an older training
    result = train(project, backbone=tiny_backbone, export_png=False)
    stats = read(project.results_dir / VAL_DIR / STATISTICS_FILE)
    assert stats["threshold"] is None and "test/good" in stats["calibration_error"]
    assert project.load_config().threshold is None  # an old threshold does not fit the new bank
    assert result.validation.warnings[0] == stats["calibration_error"]
    assert (project.results_dir / VAL_DIR / HTML_REPORT_FILE).is_file()


def test_manual_threshold_recomputes_everything_without_the_model(make_project, tiny_backbone):
    project = make_project(train=3, test_good=5, defects=5)
    result = train(project, backbone=tiny_backbone, export_png=False)
    good, defect = result.evaluation.good_scores, result.evaluation.defect_scores
    value = float(np.median(good + defect))
    validation = set_manual_threshold(project, value, export_png=False)
    stats = read(project.results_dir / VAL_DIR / STATISTICS_FILE)
    assert stats["threshold"] == value and stats["method_used"] == "manual"
    assert stats["metrics"]["at_threshold"]["counts"]["fp"] == sum(s >= value for s in good)
    assert stats["metrics"]["at_threshold"]["counts"]["tp"] == sum(s >= value for s in defect)
    config = project.load_config()
    assert (config.threshold, config.manual_threshold, config.threshold_method) == (value, value, "manual")
    assert validation.threshold == value
    # Retraining keeps the user's value.
    assert train(project, backbone=tiny_backbone, export_png=False).validation.threshold == value


def test_pixel_auroc_from_masks(make_project, tiny_backbone):
    project = make_project(train=3, test_good=3, defects=4)
    for index, path in enumerate(project.image_paths("test/defect")):
        truth = generate_scene(DEFECT_KINDS[index % len(DEFECT_KINDS)], index)[1]
        save_png(project.masks_dir / path.name, np.repeat(truth[:, :, None] * 255, 3, axis=2))
    result = train(project, backbone=tiny_backbone, export_png=False)
    reported = result.validation.statistics["metrics"]["pixel_auroc"]

    inspector = Inspector.for_project(project, backbone=tiny_backbone)
    values, labels = [], []
    for category in ("test/good", "test/defect"):
        for index, path in enumerate(project.image_paths(category)):
            values.append(prepare_map(inspector.score_file(path).anomaly_map, 128).ravel())
            mask = np.zeros((128, 128), bool)
            if category == "test/defect":
                mask = prepare_mask(generate_scene(DEFECT_KINDS[index % len(DEFECT_KINDS)], index)[1], 128)
            labels.append(mask.ravel())
    values, labels = np.concatenate(values).astype(np.float64), np.concatenate(labels)
    # Mann-Whitney U with average ranks for ties, written out with numpy.
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(values.size)
    ranks[order] = np.arange(1, values.size + 1)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    rank_sums = np.bincount(inverse, weights=ranks)
    ranks = (rank_sums / counts)[inverse]
    positives, negatives = labels.sum(), (~labels).sum()
    expected = (ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives)
    assert reported == pytest.approx(expected, abs=1e-6)


def test_cli_evaluate_json_prints_all_metrics(make_project, tiny_backbone, capsys):
    project = make_project(train=3, test_good=5, defects=5, background=3)
    train(project, backbone=tiny_backbone, export_png=False)
    capsys.readouterr()
    assert main(["evaluate", project.name, "--projects", str(project.path.parent), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    stats = read(project.results_dir / VAL_DIR / STATISTICS_FILE)
    assert printed["threshold"] == pytest.approx(stats["threshold"])
    assert printed["metrics"]["at_threshold"]["counts"] == stats["metrics"]["at_threshold"]["counts"]
    assert printed["metrics"]["average_precision"] == pytest.approx(stats["metrics"]["average_precision"])
    assert printed["classes"]["good"]["count"] == 5 and printed["separation"] == stats["separation"]
    assert printed["no_part"]["method"] == "background_bank" and printed["no_part"]["no_part_test_images"] == []
    assert len(printed["good"]) == 5 and printed["image_auroc"] == pytest.approx(stats["metrics"]["image_auroc"])


def test_good_captures_fill_the_shots_first_then_test_good(make_project):
    project = make_project(train=0, test_good=0, defects=0, shots=2)
    saved = [project.add_good_image(generate_scene("good", index)[0]) for index in range(4)]
    assert [path.parent.parent.name for path in saved] == ["train", "train", "test", "test"]
    assert project.counts()["train/good"] == 2 and project.counts()["test/good"] == 2
