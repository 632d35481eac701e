"""Smoke tests of the benchmarks: the quality protocol on a tiny generated MVTec-layout dataset and
the speed benchmark at toy sizes. They check structure and value ranges, never timings."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from dinoad.bench import metrics
from dinoad.bench.__main__ import main as bench_main
from dinoad.bench.mvtec import DatasetError, find_categories
from dinoad.bench.quality import FULL, QualitySettings, draw_training_images, parse_shots, run_quality, summarise
from dinoad.bench.speed import SpeedSettings, run_speed
from dinoad.demo import DEFECT_KINDS, generate_scene
from dinoad.errors import ConfigError
from dinoad.images import save_png

# The shapes of the conftest fixtures' tiny model: 128 px is the smallest allowed resolution.
TEST_IMAGE_SIZE = 128
TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64}
CATEGORIES = ("widget", "gadget")
TRAIN_IMAGES = 4
GOOD_TESTS = 3
DEFECT_TESTS = 3


@pytest.fixture(scope="module")
def mvtec_root(tmp_path_factory):
    """Two categories in MVTec AD layout, built from the demo scenes with their defect masks."""
    root = tmp_path_factory.mktemp("mvtec")
    for offset, category in enumerate(CATEGORIES):
        folder = root / category
        for index in range(TRAIN_IMAGES):
            save_png(folder / "train" / "good" / f"{index:03d}.png", generate_scene("good", 10 * offset + index)[0])
        for index in range(GOOD_TESTS):
            save_png(folder / "test" / "good" / f"{index:03d}.png", generate_scene("good", 500 + index)[0])
        for index in range(DEFECT_TESTS):
            kind = DEFECT_KINDS[(index + offset) % len(DEFECT_KINDS)]
            image, mask = generate_scene(kind, index)
            save_png(folder / "test" / kind / f"{index:03d}.png", image)
            save_png(folder / "ground_truth" / kind / f"{index:03d}_mask.png",
                     np.repeat(mask[:, :, None] * 255, 3, axis=2))
    return root


def _settings(**changes) -> QualitySettings:
    base = {"shots": (1, 2, FULL), "seeds": (0, 1), "image_size": TEST_IMAGE_SIZE, "dtype": "float32",
            "pixel_size": 64, "aupro": True}
    return QualitySettings(**{**base, **changes})


def test_dataset_reader_finds_categories_images_and_masks(mvtec_root):
    categories = find_categories(mvtec_root)
    assert [c.name for c in categories] == sorted(CATEGORIES)
    for category in categories:
        assert len(category.train) == TRAIN_IMAGES
        assert sum(image.label for image in category.test) == DEFECT_TESTS
        assert category.has_masks
        assert all((image.mask is None) == (image.label == 0) for image in category.test)


def test_dataset_errors_say_what_to_fix(tmp_path, mvtec_root):
    with pytest.raises(DatasetError, match="not a folder"):
        find_categories(tmp_path / "missing")
    with pytest.raises(DatasetError, match="no category folders"):
        find_categories(tmp_path)
    with pytest.raises(DatasetError, match="no category folder nope"):
        find_categories(mvtec_root, ["nope"])


def test_training_draws_are_seeded_subsets(mvtec_root):
    category = find_categories(mvtec_root)[0]
    first = draw_training_images(category, 2, seed=0)
    assert len(first) == 2 and set(first) <= set(category.train)
    assert draw_training_images(category, 2, seed=0) == first
    assert draw_training_images(category, FULL, None) == list(category.train)
    assert draw_training_images(category, 99, seed=0) == list(category.train)  # k above the pool: all of it


def test_shots_parsing_refuses_nonsense():
    assert parse_shots("1, 4,full") == (1, 4, FULL)
    for bad in ("0", "two", "", "-1"):
        with pytest.raises(ConfigError):
            parse_shots(bad)


def test_quality_protocol_table_shape_and_ranges(mvtec_root, tiny_backbone, tiny_dinov3_dir):
    settings = _settings()
    rows = run_quality(mvtec_root, str(tiny_dinov3_dir), settings, backbone=tiny_backbone)
    # 2 categories x (two seeded shot counts x 2 seeds + one full run)
    assert len(rows) == len(CATEGORIES) * (2 * 2 + 1)
    for row in rows:
        assert row["test_images"] == GOOD_TESTS + DEFECT_TESTS
        assert row["train_images"] == (TRAIN_IMAGES if row["shots"] == FULL else row["shots"])
        for metric in ("image_auroc", "pixel_auroc", "aupro"):
            assert 0.0 <= row[metric] <= 1.0
    summary = summarise(rows)
    image_rows = [row for row in summary if row["metric"] == "image_auroc"]
    # per category and the category mean, for each shot count
    assert len(image_rows) == (len(CATEGORIES) + 1) * 3
    one_shot_widget = [r for r in rows if r["category"] == "widget" and r["shots"] == 1]
    expected = np.mean([r["image_auroc"] for r in one_shot_widget])
    summary_widget = next(r for r in image_rows if r["category"] == "widget" and r["shots"] == 1)
    assert summary_widget["mean"] == pytest.approx(expected)
    assert summary_widget["runs"] == 2


def test_quality_cli_writes_csv_and_markdown(mvtec_root, tiny_dinov3_dir, tmp_path, capsys):
    output = tmp_path / "out"
    code = bench_main(["quality", str(mvtec_root), "--model", str(tiny_dinov3_dir), "--shots", "1,full",
                       "--seeds", "0", "--image-size", str(TEST_IMAGE_SIZE), "--dtype", "float32",
                       "--categories", "widget", "--pixel-size", "64", "--output", str(output)])
    assert code == 0
    with (output / "results.csv").open() as handle:
        runs = list(csv.DictReader(handle))
    assert [(r["category"], r["shots"]) for r in runs] == [("widget", "1"), ("widget", FULL)]
    markdown = (output / "results.md").read_text()
    assert "| category | 1-shot | full |" in markdown
    assert "image auroc" in markdown and "pixel auroc" in markdown
    assert "wrote" in capsys.readouterr().out


def test_quality_cli_reports_bad_settings_without_a_traceback(mvtec_root, tmp_path, capsys):
    code = bench_main(["quality", str(mvtec_root), "--shots", "zero", "--output", str(tmp_path)])
    assert code == 2
    assert "shots must be" in capsys.readouterr().err


def test_metrics_on_known_cases():
    assert metrics.image_auroc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert metrics.image_auroc([0, 0], [0.1, 0.2]) is None
    mask = np.zeros((8, 8), np.uint8)
    mask[2:4, 2:4] = 1
    perfect = mask.astype(np.float32)
    assert metrics.pixel_auroc([perfect], [mask]) == 1.0
    assert metrics.aupro([perfect], [mask]) == pytest.approx(1.0)
    assert metrics.aupro([1.0 - perfect], [mask]) == pytest.approx(0.0)


def test_speed_bench_at_toy_sizes_reports_every_section(tmp_path):
    settings = SpeedSettings(
        repeats=1, peak_size=64, forward_cases=(("tiny", TEST_IMAGE_SIZE),), forward_batches=(1,),
        dtypes=("float32",), knn_banks=(300,), knn_dims=(16,), knn_queries=32, accuracy_bank=300, coreset_bank=500,
        coreset_dim=160, greedy_ratio=0.02, pipeline_architecture="tiny", pipeline_images=2,
        pipeline_size=TEST_IMAGE_SIZE, live_frames=1, shapes={"tiny": TINY},
    )
    results = run_speed(settings)
    json.dumps(results)  # the JSON file must be writable
    sections = results["sections"]
    assert set(sections) == {"peak", "forward", "knn", "knn_accuracy", "coreset", "pipeline"}
    assert {row["dtype"] for row in sections["forward"]} == {"float32"}
    assert [row["metric"] for row in sections["knn"]] == ["cosine", "euclidean"]
    for row in sections["knn"]:
        assert row["dinoad float32 found"] == 1.0  # exact search in fp32 finds every true neighbour
    assert [row["method"] for row in sections["coreset"]] == ["random", "importance", "greedy"]
    greedy = sections["coreset"][-1]
    assert greedy["picks"] == 10 and greedy["float64 identical picks"] is True
    assert [row["step"].split()[0] for row in sections["pipeline"]] == ["train", "live", "live"]
    assert sections["pipeline"][2]["bank"] < sections["pipeline"][1]["bank"]  # the coreset-shrunk bank
    assert all(isinstance(goal["met"], bool) for goal in results["goals"])


def test_speed_bench_without_faiss_says_how_to_install_it(monkeypatch, caplog):
    from dinoad.bench import speed

    monkeypatch.setattr(speed, "_load_faiss", lambda: None)
    settings = SpeedSettings(sections=("knn",), repeats=1, dtypes=("float32",), knn_banks=(200,), knn_dims=(8,),
                             knn_metrics=("cosine",), knn_queries=16, accuracy_bank=200)
    with caplog.at_level("WARNING"):
        results = run_speed(settings)
    assert "requirements-bench.txt" in caplog.text
    row = results["sections"]["knn"][0]
    assert "faiss ms" not in row and row["dinoad float32 found"] == 1.0
    assert results["goals"] == []  # no peer, so no verdict on the kNN goal


def test_speed_cli_refuses_unknown_sections(capsys):
    assert bench_main(["speed", "--only", "warp-drive"]) == 2
    assert "unknown speed sections warp-drive" in capsys.readouterr().err
