"""No-part detection: the score interval, the background bank, and the validation that no test
image with a part in view is ever judged "no part"."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from dinoad.background import (
    BACKGROUND_BANK_FILE,
    PATCH_DISTANCE_MARGIN,
    BackgroundDetector,
    BackgroundFit,
    build_background_bank,
    decide_no_part,
    fit_background,
    load_background_bank,
    no_part_offenders,
    save_background_bank,
    score_interval,
)
from dinoad.config import ProjectConfig
from dinoad.demo import generate_scene
from dinoad.pipeline import Inspector, train
from dinoad.report import BACKGROUND_BASELINE_FILE
from dinoad.scoring import Verdict, decide


def test_score_interval_uses_k_sd_or_the_margin_whichever_is_wider():
    scores = [0.010, 0.014, 0.012, 0.018]
    mean = sum(scores) / 4
    sd = math.sqrt(sum((s - mean) ** 2 for s in scores) / 3)  # sample SD by hand
    low, high = score_interval(scores, k=6, margin=0.001)
    assert (low, high) == pytest.approx((mean - 6 * sd, mean + 6 * sd))
    low, high = score_interval(scores, k=6, margin=0.5)
    assert (low, high) == pytest.approx((mean - 0.5, mean + 0.5))
    assert score_interval([0.2], k=6, margin=0.02) == pytest.approx((0.18, 0.22))
    with pytest.raises(ValueError):
        score_interval([], 6, 0.02)


def cosine_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, m) cosine distances written out with numpy."""
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return 1.0 - a @ b.T


def test_background_bank_threshold_and_object_fraction_by_hand():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(1, 8))
    images = [base + 0.05 * rng.normal(size=(10, 8)) for _ in range(3)]
    bank = build_background_bank([torch.tensor(x, dtype=torch.float32) for x in images], "cosine", "v1")
    loo_max = max(
        cosine_distances(images[i], np.concatenate([images[j] for j in range(3) if j != i])).min(axis=1).max()
        for i in range(3)
    )
    assert bank.patch_threshold == pytest.approx(PATCH_DISTANCE_MARGIN * loo_max, rel=1e-4)
    assert bank.features.shape == (30, 8) and bank.num_images == 3

    frame = np.concatenate([base + 0.05 * rng.normal(size=(6, 8)), rng.normal(size=(4, 8))])
    nearest = cosine_distances(frame, np.concatenate(images)).min(axis=1)
    expected = float((nearest > bank.patch_threshold).mean())
    fraction = BackgroundDetector(bank).object_fraction(torch.tensor(frame, dtype=torch.float32))
    assert fraction == pytest.approx(expected)
    assert 0.3 <= fraction <= 0.5  # the four random patches are the "part"


def test_background_bank_round_trip_and_refusals(tmp_path):
    features = [torch.randn(5, 4), torch.randn(5, 4), torch.randn(5, 4)]
    bank = build_background_bank(features, "euclidean", "abc")
    save_background_bank(bank, tmp_path)
    loaded = load_background_bank(tmp_path, "abc")
    assert loaded is not None
    assert torch.equal(loaded.features, bank.features)
    assert loaded.patch_threshold == bank.patch_threshold and loaded.metric == "euclidean"
    assert load_background_bank(tmp_path, "other-bank") is None  # made for another memory bank
    (tmp_path / BACKGROUND_BANK_FILE).write_bytes(b"garbage")
    assert load_background_bank(tmp_path, "abc") is None
    assert load_background_bank(tmp_path / "missing", "abc") is None


def test_decide_no_part_by_interval_or_object_fraction():
    assert decide(0.3, 0.5, None, object_fraction=0.01, min_object_fraction=0.02) is Verdict.NO_PART
    assert decide(0.3, 0.5, None, object_fraction=0.02, min_object_fraction=0.02) is Verdict.OK
    assert decide(0.6, 0.5, None, object_fraction=0.4, min_object_fraction=0.02) is Verdict.NOK
    assert decide(0.01, None, (0.0, 0.02)) is Verdict.NO_PART


IMAGES = [("good", "g1.png", 0.10, 0.45), ("good", "g2.png", 0.021, 0.50), ("defect", "d1.png", 0.40, 0.01)]


def test_no_part_offenders_per_method():
    by_interval = no_part_offenders("score_interval", IMAGES, (0.0, 0.025), 0.02)
    assert by_interval == [{"class": "good", "name": "g2.png", "score": 0.021}]
    by_bank = no_part_offenders("background_bank", IMAGES, (0.0, 0.025), 0.02)
    assert by_bank == [{"class": "defect", "name": "d1.png", "object_fraction": 0.01}]


def fitted(interval=(0.0, 0.025)) -> BackgroundFit:
    bank = build_background_bank([torch.randn(4, 3) for _ in range(3)], "cosine", "v")
    return BackgroundFit(["a", "b", "c"], [0.01, 0.012, 0.011], 0.011, 0.001, interval, bank)


def test_a_method_that_skips_a_test_image_is_disabled_with_an_error():
    decision = decide_no_part(fitted(), IMAGES, ProjectConfig(background_method="background_bank"))
    assert not decision.enabled and decision.bank is None
    assert "defect/d1.png" in decision.errors[0] and "disabled" in decision.errors[0]
    decision = decide_no_part(fitted(), IMAGES, ProjectConfig(background_method="score_interval"))
    assert not decision.enabled and decision.interval is None and "good/g2.png" in decision.errors[0]
    clean = [image for image in IMAGES if image[1] == "g1.png"]
    decision = decide_no_part(fitted(), clean, ProjectConfig(background_method="score_interval"))
    assert decision.enabled and decision.interval == (0.0, 0.025) and decision.errors == []


def test_fewer_than_three_background_images_switch_detection_off_and_say_what_to_capture(tmp_path):
    paths = [tmp_path / "1.png", tmp_path / "2.png"]
    fit = fit_background(paths, lambda path: pytest.fail("must not score"), ProjectConfig(), "v")
    assert fit.bank is None and fit.interval is None
    assert "at least 3 background images" in fit.warnings[0]
    decision = decide_no_part(fit, IMAGES, ProjectConfig())
    assert not decision.enabled and decision.warnings == fit.warnings


@pytest.mark.parametrize("method", ["background_bank", "score_interval"])
def test_no_test_image_falls_into_no_part_on_the_synthetic_project(make_project, tiny_backbone, method):
    project = make_project(train=5, test_good=6, defects=8, background=5, background_method=method)
    result = train(project, backbone=tiny_backbone, export_png=False)
    baseline = json.loads((project.results_dir / BACKGROUND_BASELINE_FILE).read_text())
    assert baseline["enabled"] and baseline["errors"] == []
    assert all(outcome["passed"] for outcome in baseline["validation"].values())
    assert set(baseline["validation"]) == {"score_interval", "background_bank"}

    # The background statistics are what the saved scores say.
    scores = np.array(baseline["scores"])
    assert baseline["mean"] == pytest.approx(scores.mean())
    assert baseline["std"] == pytest.approx(scores.std(ddof=1))
    half = max(6 * scores.std(ddof=1), 0.02)
    assert baseline["interval"] == pytest.approx([scores.mean() - half, scores.mean() + half])

    config = project.load_config()
    if method == "score_interval":
        assert config.raw_ad_score_interval == pytest.approx(baseline["interval"])
        assert not (project.results_dir / BACKGROUND_BANK_FILE).exists()
    else:
        assert config.raw_ad_score_interval is None
        assert (project.results_dir / BACKGROUND_BANK_FILE).is_file()

    # Re-check with the saved project exactly as the live page loads it.
    inspector = Inspector.for_project(project, backbone=tiny_backbone)
    for category in ("test/good", "test/defect"):
        for path in project.image_paths(category):
            assert inspector.score_file(path).verdict is not Verdict.NO_PART, f"{category}/{path.name}"
    for index in range(20, 24):  # empty scenes never seen in training
        assert inspector.score(generate_scene("background", index)[0]).verdict is Verdict.NO_PART
    assert len(result.evaluation.good_object_fractions) == 6


def test_why_background_bank_is_the_default(make_project, tiny_backbone):
    """A flawless part (here: a training image) scores like an empty scene, so the score interval
    calls it "no part"; the background bank still sees the part."""
    project = make_project(train=3, test_good=5, defects=4, background=5, background_method="score_interval")
    train(project, backbone=tiny_backbone, export_png=False)
    flawless = generate_scene("good", 0)[0]  # identical to train/good/001.png
    by_interval = Inspector.for_project(project, backbone=tiny_backbone).score(flawless)
    assert by_interval.verdict is Verdict.NO_PART

    project.save_config(project.load_config().replace(background_method="background_bank"))
    train(project, backbone=tiny_backbone, export_png=False)
    by_bank = Inspector.for_project(project, backbone=tiny_backbone).score(flawless)
    assert by_bank.verdict is not Verdict.NO_PART
    assert by_bank.object_fraction > 10 * project.load_config().min_object_fraction


def test_a_failing_method_is_disabled_and_reported(make_project, tiny_backbone):
    # min_object_fraction 0.99: every test image would be "no part" -> must be switched off.
    project = make_project(train=3, test_good=5, defects=5, background=3, min_object_fraction=0.99)
    result = train(project, backbone=tiny_backbone, export_png=False)
    baseline = json.loads((project.results_dir / BACKGROUND_BASELINE_FILE).read_text())
    assert not baseline["enabled"]
    assert len(baseline["validation"]["background_bank"]["no_part_test_images"]) == 10
    assert any("disabled" in error for error in baseline["errors"])
    assert any("disabled" in warning for warning in result.validation.warnings)
    assert not (project.results_dir / BACKGROUND_BANK_FILE).exists()
    inspector = Inspector.for_project(project, backbone=tiny_backbone)
    assert inspector.background is None
    assert inspector.score(generate_scene("spot", 1)[0]).verdict is not Verdict.NO_PART
