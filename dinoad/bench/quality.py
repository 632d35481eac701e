"""``python -m dinoad.bench quality``: the few-shot protocol on an MVTec AD layout dataset.

For each category and each k in the shot list, k training images are drawn with each seed; a
memory bank is built from them with the product's ``build_memory_bank`` and every test image is
scored with ``Inspector.score``. Image AUROC, pixel AUROC (when masks exist) and optionally AUPRO
are reported per run and as mean +- std over seeds, per category and averaged, in CSV and Markdown
(the layout of the AnomalyDINO tables). ``full`` uses every training image once.

Patch features are memoised per preprocessed image, so the test images go through the backbone
once per category however many banks score them; the results are the same as without the cache.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import logging
import statistics
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from dinoad.backbone import Backbone
from dinoad.bench.metrics import aupro, image_auroc, pixel_auroc
from dinoad.bench.mvtec import Category, find_categories
from dinoad.bench.report import markdown_table
from dinoad.config import (
    CORESET_METHODS,
    DEFAULT_MODEL_ID,
    METRICS,
    ROTATION_AUGMENTATIONS,
    SCORE_AGGREGATIONS,
    ProjectConfig,
)
from dinoad.errors import ConfigError
from dinoad.images import load_image

log = logging.getLogger(__name__)

FULL = "full"
METRIC_NAMES = ("image_auroc", "pixel_auroc", "aupro")
BYTES_PER_MB = 1 << 20


@dataclass
class QualitySettings:
    """The protocol and the method settings whose effect the benchmark can measure."""

    shots: tuple[int | str, ...] = (1, 2, 4, 8, 16, FULL)
    seeds: tuple[int, ...] = (0, 1, 2)
    image_size: int = 448
    dtype: str = "auto"
    score_aggregation: str = "max"
    augment_rotations: str = "none"
    coreset_method: str = "none"
    coreset_ratio: float = 1.0
    feature_dim: int = 0
    knn_k: int = 1
    metric: str = "cosine"
    sigma: float = 4.0
    # Anomaly maps and masks are compared at this resolution (maps bilinear, masks nearest).
    pixel_size: int = 256
    aupro: bool = False
    max_test_images: int | None = None
    cache_mb: int = 4096
    categories: tuple[str, ...] = field(default_factory=tuple)

    def project_config(self, model_id: str, shots: int) -> ProjectConfig:
        """The project settings of one run; raises ConfigError for invalid values."""
        return ProjectConfig(
            model_id=model_id, image_size=self.image_size, dtype=self.dtype, shots=shots,
            batch_size=1,  # one image per forward pass: the feature cache is keyed per image
            augment_rotations=self.augment_rotations, feature_dim=self.feature_dim,
            coreset_method=self.coreset_method, coreset_ratio=self.coreset_ratio, knn_k=self.knn_k,
            metric=self.metric, score_aggregation=self.score_aggregation, sigma=self.sigma,
        )


class CachedBackbone:
    """A Backbone whose ``patch_features`` remembers results per input tensor (LRU, bounded in MB).

    Everything else is the wrapped backbone's, so the product's pipeline runs unchanged on it.
    """

    def __init__(self, backbone: Backbone, limit_mb: int) -> None:
        self._backbone = backbone
        self._limit = limit_mb * BYTES_PER_MB
        self._used = 0
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backbone, name)

    def patch_features(self, pixels: torch.Tensor) -> torch.Tensor:
        key = hashlib.blake2b(pixels.contiguous().numpy().tobytes(), digest_size=16).hexdigest()
        found = self._cache.get(key)
        if found is not None:
            self._cache.move_to_end(key)
            self.hits += 1
            return found.clone()
        self.misses += 1
        features = self._backbone.patch_features(pixels)
        size = features.numel() * features.element_size()
        if size <= self._limit:
            self._cache[key] = features.clone()
            self._used += size
            while self._used > self._limit:
                _, evicted = self._cache.popitem(last=False)
                self._used -= evicted.numel() * evicted.element_size()
        return features


def parse_shots(text: str) -> tuple[int | str, ...]:
    """``"1,2,4,full"`` -> (1, 2, 4, "full"); ConfigError for anything else."""
    shots: list[int | str] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        if part == FULL:
            shots.append(FULL)
        elif part.isdigit() and int(part) > 0:
            shots.append(int(part))
        else:
            raise ConfigError(f"shots must be positive whole numbers or 'full', separated by commas; got {part!r}")
    if not shots:
        raise ConfigError("give at least one shot count, e.g. --shots 1,2,4,8,16,full")
    return tuple(shots)


def parse_seeds(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise ConfigError(f"seeds must be whole numbers separated by commas; got {text!r}") from exc
    if not seeds or any(seed < 0 for seed in seeds):
        raise ConfigError(f"give at least one non-negative seed, e.g. --seeds 0,1,2; got {text!r}")
    return seeds


def draw_training_images(category: Category, shots: int | str, seed: int | None) -> list[Path]:
    """``shots`` training images drawn without replacement with ``seed`` (all of them for ``full``)."""
    if shots == FULL or int(shots) >= len(category.train):
        return list(category.train)
    picked = np.random.default_rng(seed).choice(len(category.train), size=int(shots), replace=False)
    return [category.train[index] for index in sorted(picked.tolist())]


def _resize_mask(path: Path | None, size: int) -> np.ndarray:
    if path is None:
        return np.zeros((size, size), np.uint8)
    mask = load_image(path)[:, :, 0]
    return cv2.resize((mask > 0).astype(np.uint8), (size, size), interpolation=cv2.INTER_NEAREST)


def evaluate_run(category: Category, train_paths: list[Path], backbone: Backbone | CachedBackbone,
                 config: ProjectConfig, settings: QualitySettings,
                 masks: list[np.ndarray] | None) -> dict[str, Any]:
    """Build a bank from ``train_paths`` and score every test image; returns the run's metrics."""
    from dinoad.pipeline import Inspector, build_memory_bank

    start = time.perf_counter()
    bank = build_memory_bank(backbone, train_paths, config)
    inspector = Inspector(backbone, bank, config)
    tests = _test_images(category, settings)
    scores, maps = [], []
    for image in tests:
        result = inspector.score_file(image.path)
        scores.append(result.score)
        if masks is not None:
            maps.append(cv2.resize(result.anomaly_map, (settings.pixel_size, settings.pixel_size),
                                   interpolation=cv2.INTER_LINEAR))
    row: dict[str, Any] = {
        "image_auroc": image_auroc([image.label for image in tests], scores),
        "pixel_auroc": pixel_auroc(maps, masks) if masks is not None else None,
        "aupro": aupro(maps, masks) if masks is not None and settings.aupro else None,
        "train_images": len(train_paths), "test_images": len(tests), "bank_patches": int(bank.features.shape[0]),
    }
    row["seconds"] = time.perf_counter() - start
    return row


def _test_images(category: Category, settings: QualitySettings):
    tests = list(category.test)
    if settings.max_test_images is not None and len(tests) > settings.max_test_images:
        # Keep both classes: an evenly spaced selection over the sorted (good, defects) list.
        keep = np.linspace(0, len(tests) - 1, settings.max_test_images).round().astype(int)
        tests = [tests[i] for i in sorted(set(keep.tolist()))]
    return tests


def run_quality(root: Path, model_id: str, settings: QualitySettings,
                backbone: Backbone | None = None) -> list[dict[str, Any]]:
    """Every (category, shots, seed) run of the protocol as a list of result rows."""
    from dinoad.pipeline import load_project_backbone

    base_config = settings.project_config(model_id, 1)  # validates every setting before any work
    categories = find_categories(root, settings.categories or None)
    backbone = backbone or load_project_backbone(base_config)
    cached = CachedBackbone(backbone, settings.cache_mb)
    rows = []
    for category in categories:
        tests = _test_images(category, settings)
        masks = None
        if category.has_masks:
            masks = [_resize_mask(image.mask, settings.pixel_size) for image in tests]
        for shots in settings.shots:
            seeds: Sequence[int | None] = [None] if shots == FULL else settings.seeds
            for seed in seeds:
                train_paths = draw_training_images(category, shots, seed)
                config = settings.project_config(model_id, len(train_paths))
                row = {"category": category.name, "shots": shots, "seed": seed}
                row.update(evaluate_run(category, train_paths, cached, config, settings, masks))
                log.info("%s shots=%s seed=%s: image AUROC %s, pixel AUROC %s (%.1f s)", category.name, shots, seed,
                         _percent(row["image_auroc"]), _percent(row["pixel_auroc"]), row["seconds"])
                rows.append(row)
    return rows


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and std over seeds per (category, shots, metric), plus a ``mean`` category.

    The ``mean`` category averages the categories within each seed first, then takes mean and
    std over seeds, as the few-shot papers report it.
    """
    summary = []
    categories = list(dict.fromkeys(row["category"] for row in rows))
    shots_list = list(dict.fromkeys(row["shots"] for row in rows))
    for shots in shots_list:
        for metric in METRIC_NAMES:
            per_seed: dict[Any, list[float]] = {}
            for category in categories:
                values = [(row["seed"], row[metric]) for row in rows
                          if row["category"] == category and row["shots"] == shots and row[metric] is not None]
                if not values:
                    continue
                for seed, value in values:
                    per_seed.setdefault(seed, []).append(value)
                summary.append(_summary_row(category, shots, metric, [value for _, value in values]))
            complete = [statistics.fmean(values) for values in per_seed.values() if len(values) == len(categories)]
            if complete and len(categories) > 1:
                summary.append(_summary_row("mean", shots, metric, complete))
    return summary


def _summary_row(category: str, shots: Any, metric: str, values: list[float]) -> dict[str, Any]:
    return {"category": category, "shots": shots, "metric": metric, "mean": statistics.fmean(values),
            "std": statistics.pstdev(values) if len(values) > 1 else 0.0, "runs": len(values)}


def markdown_tables(summary: list[dict[str, Any]]) -> str:
    """One table per metric: categories as rows, shots as columns, cells ``mean ± std`` in percent."""
    parts = []
    shots_list = list(dict.fromkeys(row["shots"] for row in summary))
    for metric in METRIC_NAMES:
        entries = [row for row in summary if row["metric"] == metric]
        if not entries:
            continue
        categories = list(dict.fromkeys(row["category"] for row in entries))
        table_rows = []
        for category in categories:
            cells: dict[str, Any] = {"category": category}
            for shots in shots_list:
                found = [row for row in entries if row["category"] == category and row["shots"] == shots]
                cells[_shots_label(shots)] = _format_cell(found[0]) if found else "—"
            table_rows.append(cells)
        parts += [f"### {metric.replace('_', ' ')} (%)", "",
                  markdown_table(table_rows, ["category", *(_shots_label(s) for s in shots_list)])]
    return "\n".join(parts)


def _shots_label(shots: Any) -> str:
    return FULL if shots == FULL else f"{shots}-shot"


def _format_cell(row: dict[str, Any]) -> str:
    if row["runs"] > 1:
        return f"{100 * row['mean']:.1f} ± {100 * row['std']:.1f}"
    return f"{100 * row['mean']:.1f}"


def write_results(rows: list[dict[str, Any]], settings: QualitySettings, model_id: str, root: Path,
                  output: Path) -> dict[str, Path]:
    """results.csv (one row per run), summary.csv and results.md in ``output``."""
    output.mkdir(parents=True, exist_ok=True)
    paths = {"runs": output / "results.csv", "summary": output / "summary.csv", "markdown": output / "results.md"}
    _write_csv(paths["runs"], rows)
    summary = summarise(rows)
    _write_csv(paths["summary"], summary)
    settings_text = ", ".join(f"{key}={value}" for key, value in asdict(settings).items() if key != "categories")
    header = ["## Few-shot quality", "", f"Dataset {root}, model {model_id}; {settings_text}.", ""]
    paths["markdown"].write_text("\n".join(header) + markdown_tables(summary), encoding="utf-8")
    return paths


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = QualitySettings()
    parser.add_argument("root", type=Path, help="MVTec AD (or VisA in MVTec layout) root folder")
    parser.add_argument("--model", default=DEFAULT_MODEL_ID, help="HuggingFace model id or local model folder")
    parser.add_argument("--categories", default="", help="comma-separated categories (default: all)")
    parser.add_argument("--shots", default="1,2,4,8,16,full", help="training images per run (default 1,2,4,8,16,full)")
    parser.add_argument("--seeds", default="0,1,2", help="seeds that draw the training images (default 0,1,2)")
    parser.add_argument("--image-size", type=int, default=defaults.image_size)
    parser.add_argument("--dtype", default=defaults.dtype, help="auto, float32, bfloat16 or float16")
    parser.add_argument("--score", choices=SCORE_AGGREGATIONS, default=defaults.score_aggregation)
    parser.add_argument("--rotations", choices=ROTATION_AUGMENTATIONS, default=defaults.augment_rotations)
    parser.add_argument("--coreset", choices=CORESET_METHODS, default=defaults.coreset_method)
    parser.add_argument("--coreset-ratio", type=float, default=defaults.coreset_ratio)
    parser.add_argument("--feature-dim", type=int, default=defaults.feature_dim, help="0 = no projection")
    parser.add_argument("--knn-k", type=int, default=defaults.knn_k)
    parser.add_argument("--metric", choices=METRICS, default=defaults.metric)
    parser.add_argument("--sigma", type=float, default=defaults.sigma, help="anomaly map smoothing in pixels")
    parser.add_argument("--pixel-size", type=int, default=defaults.pixel_size,
                        help="resolution of the pixel metrics (default 256)")
    parser.add_argument("--aupro", action="store_true", help="also compute AUPRO (slower)")
    parser.add_argument("--max-test", type=int, help="score at most this many test images per category")
    parser.add_argument("--cache-mb", type=int, default=defaults.cache_mb, help="patch feature cache (MB)")
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/quality"),
                        help="folder for results.csv, summary.csv and results.md")


def settings_from_args(args: argparse.Namespace) -> QualitySettings:
    if args.max_test is not None and args.max_test < 2:
        raise ConfigError("--max-test must be at least 2 (a good and a defect image)")
    if args.pixel_size < 16:
        raise ConfigError(f"--pixel-size must be at least 16; got {args.pixel_size}")
    return QualitySettings(
        shots=parse_shots(args.shots), seeds=parse_seeds(args.seeds), image_size=args.image_size, dtype=args.dtype,
        score_aggregation=args.score, augment_rotations=args.rotations, coreset_method=args.coreset,
        coreset_ratio=args.coreset_ratio, feature_dim=args.feature_dim, knn_k=args.knn_k, metric=args.metric,
        sigma=args.sigma, pixel_size=args.pixel_size, aupro=args.aupro, max_test_images=args.max_test,
        cache_mb=args.cache_mb,
        categories=tuple(part.strip() for part in args.categories.split(",") if part.strip()),
    )


def run_from_args(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    rows = run_quality(args.root, args.model, settings)
    paths = write_results(rows, settings, args.model, args.root, args.output)
    print(paths["markdown"].read_text(encoding="utf-8"))
    print(f"wrote {', '.join(str(path) for path in paths.values())}")
    return 0
