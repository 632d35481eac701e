"""``python -m dinoad.bench speed``: the product's speed next to the machine's peak and its peers.

Sections (``--only`` picks some):

* ``peak``: large matmul GFLOP/s in fp32 and bf16 (and fp32 with oneDNN's bf16 flag, with its error).
* ``forward``: ``Backbone.patch_features`` of random-weight DINOv3 ViT-S/16 and ViT-B/16.
* ``knn``: ``KnnIndex.distances`` against faiss ``IndexFlatIP`` / ``IndexFlatL2`` (exact search),
  with how often each finds the true nearest neighbour and the image AUROC each gives.
* ``coreset``: ``select_coreset`` random / importance / greedy against a PatchCore-style reference.
* ``pipeline``: ``build_memory_bank`` + ``save_bank`` of 20 images vs 20 forward passes, and
  ``Inspector.score`` of a live frame vs one forward pass.

Every ratio compares candidates timed interleaved in the same run.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dinoad.bench import data
from dinoad.bench.models import ARCHITECTURES, forward_flops, random_backbone
from dinoad.bench.report import render_speed_markdown
from dinoad.bench.timing import Timing, interleaved, machine_description, measure
from dinoad.errors import DinoadError

log = logging.getLogger(__name__)

SECTIONS = ("peak", "forward", "knn", "coreset", "pipeline")
FAISS_MISSING = (
    "faiss is not installed, so the kNN comparison with faiss is skipped. It is a benchmark-only "
    "extra: pip install -r requirements-bench.txt"
)
# Rows of the matmul used to measure its error against float64 (the full product would be slow).
ERROR_ROWS = 256
# Queries whose nearest neighbour is checked against a float64 brute-force search.
ACCURACY_QUERIES = 256
# Bank rows per float64 brute-force step (bounds its memory).
TRUTH_CHUNK_ROWS = 16384
# A distance within this relative tolerance of the float64 truth counts as the true neighbour.
NEIGHBOUR_TOLERANCE = 1e-5
# Synthetic images for the AUROC check: patches per image, and unlike-the-bank patches per defect image.
AUROC_IMAGES_PER_CLASS = 20
AUROC_DEFECT_PATCHES = 3
# Live frames arrive from a camera at this size, in BGR order (OpenCV, WebRTC's bgr24).
LIVE_FRAME_SIZE = (720, 1280)
# Live scoring is also timed against the bank shrunk by a greedy coreset of this ratio.
LIVE_CORESET_RATIO = 0.1
# Training images are stored at this resolution (MVTec AD images are 700 to 1024 pixels).
TRAIN_IMAGE_PIXELS = 1024

# Goals of issue 4.
KNN_SPEEDUP_GOAL = 1.5
AUROC_TOLERANCE = 1e-3
RANDOM_CORESET_GOAL_MS = 10.0
IMPORTANCE_CORESET_GOAL_MS = 50.0
GREEDY_SPEEDUP_GOAL = 20.0
OVERHEAD_GOAL = 1.15


@dataclass
class SpeedSettings:
    """What the speed benchmark runs; the defaults are the full run, ``quick()`` a short one."""

    sections: tuple[str, ...] = SECTIONS
    repeats: int = 3
    peak_size: int = 4096
    forward_cases: tuple[tuple[str, int], ...] = (
        ("ViT-S/16", 224), ("ViT-S/16", 448), ("ViT-S/16", 512), ("ViT-S/16", 768), ("ViT-B/16", 512))
    forward_batches: tuple[int, ...] = (1, 4)
    dtypes: tuple[str, ...] = ("float32", "bfloat16")
    knn_banks: tuple[int, ...] = (10_000, 50_000, 100_000, 200_000)
    knn_dims: tuple[int, ...] = (384, 256)
    knn_metrics: tuple[str, ...] = ("cosine", "euclidean")
    knn_queries: int = 1024
    accuracy_bank: int = 20_000
    coreset_bank: int = 100_000
    coreset_dim: int = 384
    sample_ratio: float = 0.1
    greedy_ratio: float = 0.01
    float64_check: bool = True
    pipeline_architecture: str = "ViT-S/16"
    pipeline_images: int = 20
    pipeline_size: int = 512
    live_frames: int = 10
    seed: int = 0
    # Architecture shapes beyond ARCHITECTURES (the tests use a tiny one).
    shapes: dict[str, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def quick(cls) -> SpeedSettings:
        return cls(repeats=2, peak_size=2048, forward_cases=(("ViT-S/16", 224), ("ViT-S/16", 512)),
                   forward_batches=(1,), knn_banks=(10_000, 100_000), knn_dims=(384,), knn_metrics=("cosine",),
                   float64_check=False, live_frames=5)


def _add(rows: list[dict[str, Any]], row: dict[str, Any]) -> None:
    """Append a result row and report it at once (a full run takes minutes)."""
    rows.append(row)
    log.info("%s", ", ".join(f"{key} {_brief(value)}" for key, value in row.items() if not isinstance(value, dict)))


def _brief(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _shape(settings: SpeedSettings, architecture: str) -> dict[str, int]:
    if architecture in settings.shapes:
        return settings.shapes[architecture]
    if architecture not in ARCHITECTURES:
        raise DinoadError(f"unknown architecture {architecture!r}; use one of {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[architecture]


def _dtypes(settings: SpeedSettings) -> list[torch.dtype]:
    from dinoad.backbone import DTYPE_NAMES, cpu_supports_bf16

    chosen = []
    for name in settings.dtypes:
        if name not in DTYPE_NAMES:
            raise DinoadError(f"dtype must be one of {', '.join(DTYPE_NAMES)}; got {name!r}")
        if name == "bfloat16" and not cpu_supports_bf16():
            log.warning("this CPU has no native bf16 kernels: bf16 rows are skipped")
            continue
        chosen.append(DTYPE_NAMES[name])
    return chosen


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


# ---------------------------------------------------------------- peak


def _matmul_row(label: str, size: int, dtype: torch.dtype, repeats: int) -> dict[str, Any]:
    generator = torch.Generator().manual_seed(0)
    a, b = torch.randn(size, size, generator=generator), torch.randn(size, size, generator=generator)
    a_low, b_low = a.to(dtype), b.to(dtype)
    timing = measure(lambda: a_low @ b_low, repeats)
    reference = a[:ERROR_ROWS].double() @ b.double()
    error = ((a_low[:ERROR_ROWS] @ b_low).double() - reference).abs().max() / reference.abs().max()
    return {"kernel": label, "size": size, "ms": timing.median_ms,
            "gflops": 2.0 * size**3 / timing.median_ms / 1e6, "relative_error": float(error)}


def run_peak(settings: SpeedSettings) -> list[dict[str, Any]]:
    rows = [_matmul_row("fp32 matmul (default)", settings.peak_size, torch.float32, settings.repeats)]
    if torch.bfloat16 in _dtypes(settings):
        _add(rows, _matmul_row("bf16 matmul", settings.peak_size, torch.bfloat16, settings.repeats))
    onednn = getattr(getattr(torch.backends, "mkldnn", None), "matmul", None)
    if onednn is not None and hasattr(onednn, "fp32_precision"):
        previous = onednn.fp32_precision
        try:
            onednn.fp32_precision = "bf16"  # process-wide: restored right after
            _add(rows, _matmul_row("fp32 matmul, mkldnn fp32_precision=bf16", settings.peak_size, torch.float32,
                                    settings.repeats))
        finally:
            onednn.fp32_precision = previous
    return rows


def _peaks(rows: list[dict[str, Any]]) -> dict[str, float]:
    found = {"float32": "fp32 matmul (default)", "bfloat16": "bf16 matmul"}
    return {name: row["gflops"] for name, label in found.items() for row in rows if row["kernel"] == label}


# ---------------------------------------------------------------- forward


def run_forward(settings: SpeedSettings, peaks: dict[str, float]) -> list[dict[str, Any]]:
    rows = []
    for dtype in _dtypes(settings):
        for architecture in dict.fromkeys(arch for arch, _ in settings.forward_cases):
            shape = _shape(settings, architecture)
            backbone = random_backbone(architecture, dtype, shape=shape)
            for arch, size in settings.forward_cases:
                if arch != architecture:
                    continue
                flops = forward_flops(shape["hidden_size"], shape["num_hidden_layers"], shape["intermediate_size"],
                                      size)
                for batch in settings.forward_batches:
                    pixels = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(batch))
                    timing = measure(lambda b=backbone, p=pixels: b.patch_features(p), settings.repeats)
                    gflops = flops * batch / timing.median_ms / 1e6
                    peak = peaks.get(_dtype_name(dtype))
                    _add(rows, {
                        "model": architecture, "size": size, "dtype": _dtype_name(dtype), "batch": batch,
                        "ms_per_batch": timing.median_ms, "ms_per_image": timing.median_ms / batch,
                        "images_per_s": 1000.0 * batch / timing.median_ms, "gflops": gflops,
                        "peak_fraction": gflops / peak if peak else None,
                    })
            del backbone
    return rows


# ---------------------------------------------------------------- kNN


def _load_faiss():
    try:
        import faiss
    except ImportError:
        return None
    faiss.omp_set_num_threads(torch.get_num_threads())  # the same cores as torch
    return faiss


def _true_distances(bank: torch.Tensor, queries: torch.Tensor, metric: str) -> np.ndarray:
    """float64 brute-force nearest-neighbour distance of each query."""
    bank64, queries64 = bank.double(), queries.double()
    if metric == "cosine":
        bank64 = torch.nn.functional.normalize(bank64, dim=1)
        queries64 = torch.nn.functional.normalize(queries64, dim=1)
    best = torch.full((queries.shape[0],), float("inf"), dtype=torch.float64)
    for start in range(0, bank64.shape[0], TRUTH_CHUNK_ROWS):
        chunk = bank64[start:start + TRUTH_CHUNK_ROWS]
        distance = 1.0 - queries64 @ chunk.T if metric == "cosine" else torch.cdist(queries64, chunk)
        best = torch.minimum(best, distance.min(dim=1).values)
    return best.numpy()


class FaissSearch:
    """faiss exact search returning the same distances as KnnIndex (1 - cosine, or L2 norm)."""

    def __init__(self, faiss, bank: torch.Tensor, metric: str) -> None:
        self.metric = metric
        vectors = bank.float()
        if metric == "cosine":
            vectors = torch.nn.functional.normalize(vectors, dim=1)
            self.index = faiss.IndexFlatIP(bank.shape[1])
        else:
            self.index = faiss.IndexFlatL2(bank.shape[1])
        self.index.add(np.ascontiguousarray(vectors.numpy()))

    def prepare(self, queries: torch.Tensor) -> np.ndarray:
        vectors = torch.nn.functional.normalize(queries.float(), dim=1) if self.metric == "cosine" else queries
        return np.ascontiguousarray(vectors.float().numpy())

    def search(self, prepared: np.ndarray) -> np.ndarray:
        found, _ = self.index.search(prepared, 1)
        return found[:, 0]

    def distances(self, queries: torch.Tensor) -> np.ndarray:
        found = self.search(self.prepare(queries)).astype(np.float64)
        return 1.0 - found if self.metric == "cosine" else np.sqrt(np.maximum(found, 0.0))


def _found_rate(distances: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(share of queries given their true nearest distance, largest absolute error)."""
    error = np.abs(np.asarray(distances, np.float64) - truth)
    found = error <= NEIGHBOUR_TOLERANCE * np.maximum(1.0, np.abs(truth))
    return float(found.mean()), float(error.max())


def run_knn(settings: SpeedSettings) -> list[dict[str, Any]]:
    from dinoad.knn import KnnIndex

    faiss = _load_faiss()
    if faiss is None:
        log.warning(FAISS_MISSING)
    rows = []
    for dim in settings.knn_dims:
        for count in settings.knn_banks:
            bank = data.clustered_features(count, dim, settings.seed)
            queries = data.good_queries(bank, settings.knn_queries, settings.seed + 1)
            check = queries[:ACCURACY_QUERIES]
            # Every metric on the first feature width; the product's default metric on the others.
            for metric in settings.knn_metrics if dim == settings.knn_dims[0] else settings.knn_metrics[:1]:
                ours = {_dtype_name(dtype): KnnIndex(bank, metric, dtype) for dtype in _dtypes(settings)}
                candidates: dict[str, Callable[[], object]] = {
                    f"dinoad {name}": (lambda index=index, q=queries: index.distances(q, 1))
                    for name, index in ours.items()
                }
                peer = FaissSearch(faiss, bank, metric) if faiss is not None else None
                if peer is not None:
                    prepared = peer.prepare(queries)
                    candidates["faiss"] = lambda peer=peer, prepared=prepared: peer.search(prepared)
                timings = interleaved(candidates, settings.repeats)
                truth = _true_distances(bank, check, metric)
                row: dict[str, Any] = {"bank": count, "dim": dim, "metric": metric, "queries": settings.knn_queries}
                for name, timing in timings.items():
                    row[f"{name} ms"] = timing.median_ms
                for name, index in ours.items():
                    row[f"dinoad {name} found"], row[f"dinoad {name} max_error"] = _found_rate(
                        index.distances(check, 1).numpy(), truth)
                    if peer is not None:
                        row[f"speedup {name}"] = timings["faiss"].median_ms / timings[f"dinoad {name}"].median_ms
                        # Fastest runs only: what each reaches when no other process interrupts it.
                        row[f"speedup {name} best"] = timings["faiss"].min_ms / timings[f"dinoad {name}"].min_ms
                if peer is not None:
                    row["faiss found"], row["faiss max_error"] = _found_rate(peer.distances(check), truth)
                _add(rows, row)
    return rows


def run_knn_accuracy(settings: SpeedSettings) -> list[dict[str, Any]]:
    """Per search implementation: share of true nearest neighbours found and the largest distance
    error (against float64) on a typical and a near-duplicate bank, and the image AUROC (max patch
    score) of synthetic good / defect images on the typical bank."""
    from sklearn.metrics import roc_auc_score

    from dinoad.knn import KnnIndex
    from dinoad.scoring import image_score

    dim = settings.knn_dims[0]
    faiss = _load_faiss()
    rows = []
    for label, spread in (("typical", data.CLUSTER_SPREAD), ("near-duplicate", data.NEAR_DUPLICATE_SPREAD)):
        bank = data.clustered_features(settings.accuracy_bank, dim, settings.seed, spread)
        searches: dict[str, Callable[[torch.Tensor], np.ndarray]] = {}
        for dtype in _dtypes(settings):
            index = KnnIndex(bank, "cosine", dtype)
            searches[f"dinoad {_dtype_name(dtype)}"] = lambda q, index=index: index.distances(q, 1).numpy()
        if faiss is not None:
            searches["faiss"] = FaissSearch(faiss, bank, "cosine").distances
        check = data.good_queries(bank, ACCURACY_QUERIES, settings.seed + 1, spread)
        truth = _true_distances(bank, check, "cosine")
        row: dict[str, Any] = {"bank": f"{label} {settings.accuracy_bank}x{dim}", "metric": "cosine"}
        for name, search in searches.items():
            row[f"{name} found"], row[f"{name} max_error"] = _found_rate(search(check), truth)
        if label == "typical":
            images = [data.good_queries(bank, settings.knn_queries, 100 + i) for i in range(AUROC_IMAGES_PER_CLASS)]
            images += [data.defect_queries(bank, settings.knn_queries, AUROC_DEFECT_PATCHES, 200 + i)
                       for i in range(AUROC_IMAGES_PER_CLASS)]
            labels = [0] * AUROC_IMAGES_PER_CLASS + [1] * AUROC_IMAGES_PER_CLASS
            for name, search in searches.items():
                scores = [image_score(search(image), "max") for image in images]
                row[f"{name} auroc"] = float(roc_auc_score(labels, scores))
        _add(rows, row)
    return rows


# ---------------------------------------------------------------- coreset


def run_coreset(settings: SpeedSettings) -> list[dict[str, Any]]:
    from dinoad.coreset import coreset_size, greedy_inputs, kcenter_greedy, kcenter_greedy_reference, select_coreset

    features = data.clustered_features(settings.coreset_bank, settings.coreset_dim, settings.seed)
    rows = []
    for method, goal in (("random", RANDOM_CORESET_GOAL_MS), ("importance", IMPORTANCE_CORESET_GOAL_MS)):
        timing = measure(lambda m=method: select_coreset(features, m, settings.sample_ratio, settings.seed),
                         max(5, settings.repeats))
        _add(rows, {"method": method, "bank": list(features.shape), "ratio": settings.sample_ratio,
                     "dinoad ms": timing.median_ms, "goal": f"< {goal:g} ms", "met": timing.median_ms < goal})

    keep = coreset_size(features.shape[0], settings.greedy_ratio)

    def reference() -> torch.Tensor:
        reduced, start = greedy_inputs(features, settings.seed)
        return kcenter_greedy_reference(reduced, keep, start).sort().values

    def product_run() -> torch.Tensor:
        return select_coreset(features, "greedy", settings.greedy_ratio, settings.seed)

    # The reference is too slow to repeat: product runs bracket its one run, so load hits both.
    product_run()
    before = measure(product_run, settings.repeats, warmup=0)
    reference_timing = measure(reference, 1, warmup=0)
    after = measure(product_run, settings.repeats, warmup=0)
    product = Timing(before.samples_ms + after.samples_ms)
    reduced, start = greedy_inputs(features, settings.seed)
    fast_order = kcenter_greedy(reduced, keep, start)
    reference_order = kcenter_greedy_reference(reduced, keep, start)
    same = (fast_order == reference_order).tolist()
    first_difference = same.index(False) if False in same else None
    row = {"method": "greedy", "bank": list(features.shape), "ratio": settings.greedy_ratio, "picks": keep,
           "dinoad ms": product.median_ms, "reference ms": reference_timing.median_ms,
           "speedup": reference_timing.median_ms / product.median_ms,
           "fp32 identical picks": first_difference is None,
           "fp32 first difference": first_difference,
           "fp32 same set share": len(set(fast_order.tolist()) & set(reference_order.tolist())) / keep,
           "goal": f">= {GREEDY_SPEEDUP_GOAL:g}x, same picks"}
    if settings.float64_check:
        exact = reduced.double()
        row["float64 identical picks"] = torch.equal(kcenter_greedy(exact, keep, start),
                                                     kcenter_greedy_reference(exact, keep, start))
    identical = row.get("float64 identical picks", row["fp32 identical picks"])
    row["met"] = bool(row["speedup"] >= GREEDY_SPEEDUP_GOAL and identical)
    _add(rows, row)
    return rows


# ---------------------------------------------------------------- pipeline


def _write_training_images(folder: Path, count: int) -> list[Path]:
    import cv2

    from dinoad.demo import generate_scene
    from dinoad.images import save_png

    paths = []
    for index in range(count):
        image, _ = generate_scene("good", index)
        path = folder / f"good_{index:03d}.png"
        save_png(path, cv2.resize(image, (TRAIN_IMAGE_PIXELS, TRAIN_IMAGE_PIXELS), interpolation=cv2.INTER_LINEAR))
        paths.append(path)
    return paths


def _live_frame():
    import cv2

    from dinoad.demo import generate_scene

    image, _ = generate_scene("scratch", 0)
    height, width = LIVE_FRAME_SIZE
    return np.ascontiguousarray(cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)[:, :, ::-1])


def pixels_of_frame(frame: np.ndarray, size: int) -> torch.Tensor:
    """The live path's preprocessing of a BGR frame (as ``Inspector.score`` does it)."""
    from dinoad.images import frame_to_rgb
    from dinoad.preprocess import resize_square, to_batch

    return to_batch([resize_square(frame_to_rgb(frame, "BGR"), size)])


def _live_banks(bank, config, seed: int):
    """The trained bank as it is, and shrunk by a 10 % greedy coreset (PatchCore's usual setting)."""
    from dataclasses import replace

    from dinoad.bank import MemoryBank
    from dinoad.coreset import select_coreset

    yield bank, config
    shrunk = config.replace(coreset_method="greedy", coreset_ratio=LIVE_CORESET_RATIO)
    kept = select_coreset(bank.features, "greedy", LIVE_CORESET_RATIO, seed)
    features = bank.features[kept].contiguous()
    info = replace(bank.info, num_patches=int(features.shape[0]))
    yield MemoryBank(features, bank.projection, info, bank.version), shrunk


def _live_row(backbone, bank, config, frame: np.ndarray, pixels: torch.Tensor,
              settings: SpeedSettings) -> dict[str, Any]:
    """``Inspector.score`` of a camera frame against one bare forward pass, interleaved."""
    from dinoad.pipeline import Inspector

    inspector = Inspector(backbone, bank, config)
    stages: list[dict[str, float]] = []

    def score() -> None:
        stages.append(inspector.score(frame, "BGR").timings_ms)

    live = interleaved({"forward": lambda: backbone.patch_features(pixels), "live": score}, settings.live_frames)
    breakdown = {name: float(np.median([s[name] for s in stages])) for name in stages[-1]}
    # How exact the live search is on real patch features (near-duplicate backgrounds).
    queries = backbone.patch_features(pixels_of_frame(frame, settings.pipeline_size))[0]
    queries = queries.reshape(-1, queries.shape[-1])
    found, worst = _found_rate(inspector.index.distances(queries, 1).numpy(),
                               _true_distances(bank.features, queries, config.metric))
    coreset = "" if config.coreset_method == "none" else f", {config.coreset_method} coreset {config.coreset_ratio:g}"
    return {"step": f"live frame {LIVE_FRAME_SIZE[1]}x{LIVE_FRAME_SIZE[0]} BGR{coreset}",
            "dtype": _dtype_name(backbone.dtype), "size": settings.pipeline_size, "bank": int(bank.features.shape[0]),
            "dinoad ms": live["live"].median_ms, "forward ms": live["forward"].median_ms,
            "ratio": live["live"].median_ms / live["forward"].median_ms,
            "ratio best": live["live"].min_ms / live["forward"].min_ms,
            "stages ms": breakdown, "knn found": found, "knn max_error": worst, "goal": f"<= {OVERHEAD_GOAL:g}x"}


def run_pipeline(settings: SpeedSettings) -> list[dict[str, Any]]:
    from dinoad.bank import save_bank
    from dinoad.config import ProjectConfig
    from dinoad.images import load_image
    from dinoad.pipeline import build_memory_bank
    from dinoad.preprocess import resize_square, to_batch

    rows = []
    shape = _shape(settings, settings.pipeline_architecture)
    with tempfile.TemporaryDirectory(prefix="dinoad-bench-") as scratch:
        folder = Path(scratch)
        paths = _write_training_images(folder, settings.pipeline_images)
        pixels = to_batch([resize_square(load_image(paths[0]), settings.pipeline_size)])
        frame = _live_frame()
        for dtype in _dtypes(settings):
            backbone = random_backbone(settings.pipeline_architecture, dtype, shape=shape)
            config = ProjectConfig(model_id=backbone.model_id, image_size=settings.pipeline_size,
                                   dtype=_dtype_name(dtype), shots=settings.pipeline_images)
            results_dir = folder / f"results-{_dtype_name(dtype)}"
            results_dir.mkdir()
            built = {}

            def forward_passes(backbone=backbone) -> None:
                for _ in range(settings.pipeline_images):
                    backbone.patch_features(pixels)

            def train(backbone=backbone, config=config, results_dir=results_dir, built=built) -> None:
                built["bank"] = save_bank(build_memory_bank(backbone, paths, config), results_dir)

            timings = interleaved({"forward": forward_passes, "train": train}, settings.repeats)
            _add(rows, {"step": f"train {settings.pipeline_images} images", "dtype": _dtype_name(dtype),
                         "size": settings.pipeline_size, "dinoad ms": timings["train"].median_ms,
                         "forward ms": timings["forward"].median_ms,
                         "ratio": timings["train"].median_ms / timings["forward"].median_ms,
                         "ratio best": timings["train"].min_ms / timings["forward"].min_ms,
                         "goal": f"<= {OVERHEAD_GOAL:g}x"})
            for bank, live_config in _live_banks(built["bank"], config, settings.seed):
                _add(rows, _live_row(backbone, bank, live_config, frame, pixels, settings))
            del backbone
    for row in rows:
        row["met"] = bool(row["ratio"] <= OVERHEAD_GOAL)
    return rows


# ---------------------------------------------------------------- goals and entry points


def _goals(sections: dict[str, Any]) -> list[dict[str, Any]]:
    """Each goal of issue 4 with its measured value; ``met`` judges the medians."""
    from dinoad.backbone import resolve_dtype

    goals = []
    default = _dtype_name(resolve_dtype("auto", torch.device("cpu")))
    knn_rows = [row for row in sections.get("knn", []) if f"speedup {default}" in row]
    auroc = next(iter(sections.get("knn_accuracy", [])), {})
    if knn_rows:
        slowest = min(row[f"speedup {default}"] for row in knn_rows)
        slowest_best = min(row[f"speedup {default} best"] for row in knn_rows)
        auroc_gap = None
        if f"dinoad {default} auroc" in auroc and "faiss auroc" in auroc:
            auroc_gap = abs(auroc[f"dinoad {default} auroc"] - auroc["faiss auroc"])
        goals.append({"goal": f"kNN ({default}, the product default here) >= {KNN_SPEEDUP_GOAL:g}x faiss, "
                              f"image AUROC within {AUROC_TOLERANCE:g}",
                      "measured": f"slowest {slowest:.2f}x (fastest runs: {slowest_best:.2f}x); AUROC gap "
                                  + ("n/a" if auroc_gap is None else f"{auroc_gap:.1e}"),
                      "met": bool(slowest >= KNN_SPEEDUP_GOAL and auroc_gap is not None
                                  and auroc_gap <= AUROC_TOLERANCE)})
    for row in sections.get("coreset", []):
        measured = (f"{row['dinoad ms']:.1f} ms" if row["method"] != "greedy"
                    else f"{row['speedup']:.1f}x faster, identical picks: "
                         f"fp32 {row['fp32 identical picks']}, float64 {row.get('float64 identical picks', 'n/a')}")
        goals.append({"goal": f"coreset {row['method']} {row['goal']}", "measured": measured, "met": row["met"]})
    for row in sections.get("pipeline", []):
        goals.append({"goal": f"{row['step']} ({row['dtype']}) vs forward {row['goal']}",
                      "measured": f"{row['ratio']:.3f}x (fastest runs: {row['ratio best']:.3f}x)", "met": row["met"]})
    return goals


def run_speed(settings: SpeedSettings) -> dict[str, Any]:
    """Run the chosen sections; returns machine, settings, sections (rows) and goals."""
    unknown = sorted(set(settings.sections) - set(SECTIONS))
    if unknown:
        raise DinoadError(f"unknown speed sections {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    machine = machine_description()
    sections: dict[str, Any] = {}
    if "peak" in settings.sections or "forward" in settings.sections:
        sections["peak"] = run_peak(settings)
    if "forward" in settings.sections:
        sections["forward"] = run_forward(settings, _peaks(sections["peak"]))
    if "knn" in settings.sections:
        sections["knn"] = run_knn(settings)
        sections["knn_accuracy"] = run_knn_accuracy(settings)
    if "coreset" in settings.sections:
        sections["coreset"] = run_coreset(settings)
    if "pipeline" in settings.sections:
        sections["pipeline"] = run_pipeline(settings)
    machine["load_average_after"] = machine_description()["load_average_1_5_15"]
    return {"machine": machine, "settings": asdict(settings), "sections": sections, "goals": _goals(sections)}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help="a short run (2-3 minutes): fewer sizes and repeats, no float64 pick check")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections to run (default all: {','.join(SECTIONS)})")
    parser.add_argument("--repeats", type=int, help="timed repetitions per candidate (default 3, quick 2)")
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results"),
                        help="folder for speed.json and speed.md (default benchmarks/results)")


def run_from_args(args: argparse.Namespace) -> int:
    settings = SpeedSettings.quick() if args.quick else SpeedSettings()
    settings.sections = tuple(part.strip() for part in args.only.split(",") if part.strip())
    if args.repeats:
        settings.repeats = args.repeats
    if "knn" in settings.sections and _load_faiss() is None:
        print(FAISS_MISSING, flush=True)
    results = run_speed(settings)
    markdown = render_speed_markdown(results)
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "speed.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (args.output / "speed.md").write_text(markdown, encoding="utf-8")
    print(markdown)
    print(f"wrote {args.output / 'speed.json'} and {args.output / 'speed.md'}")
    return 0
