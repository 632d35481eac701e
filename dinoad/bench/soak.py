"""Soak test: many frames through the live pipeline (scoring, overlay, inspection log) with memory
measured before and after. ``python -m dinoad.bench soak --frames 10000``; CI runs a short variant.

Uses a tiny random DINOv3 saved to a temp folder and loaded through the product's path, and the
demo project's clip as frames, so it needs no weights and no camera.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

WARMUP_FRAMES = 50
MEMORY_GROWTH_LIMIT_MB = 50.0
TINY_MODEL = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64,
              "patch_size": 16, "num_register_tokens": 4}


@dataclass
class SoakResult:
    frames: int
    seconds: float
    frames_per_second: float
    rss_before_mb: float
    rss_after_mb: float
    growth_mb: float
    log_rows: int
    log_errors: int
    recent_query_ms: float

    @property
    def passed(self) -> bool:
        return self.growth_mb < MEMORY_GROWTH_LIMIT_MB and self.log_errors == 0


def resident_memory_mb() -> float:
    """Current resident set size of this process (Linux /proc), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise OSError("VmRSS not found in /proc/self/status (the soak test needs Linux)")


def run_soak(frames: int, workdir: Path) -> SoakResult:
    import torch
    from transformers import DINOv3ViTConfig, DINOv3ViTModel

    from dinoad.demo_project import create_demo_project, demo_clip_frames
    from dinoad.inspection_log import InspectionLog
    from dinoad.live import FrameProcessor
    from dinoad.pipeline import Inspector, train
    from dinoad.project import ProjectStore

    torch.manual_seed(0)
    model_dir = workdir / "tiny-dinov3"
    DINOv3ViTModel(DINOv3ViTConfig(**TINY_MODEL)).save_pretrained(model_dir)
    project = create_demo_project(ProjectStore(workdir / "projects"), "Soak", str(model_dir))
    project.save_config(project.load_config().replace(image_size=128))
    train(project, export_png=False)
    log = InspectionLog(project.results_dir)
    processor = FrameProcessor(Inspector.for_project(project), log)
    clip = itertools.cycle(demo_clip_frames())
    errors = 0
    for _ in range(WARMUP_FRAMES):
        processor.process(next(clip))
    gc.collect()
    before = resident_memory_mb()
    start = time.perf_counter()
    for _ in range(frames):
        processor.process(next(clip))
        errors += log.last_error is not None
    seconds = time.perf_counter() - start
    gc.collect()
    after = resident_memory_mb()
    query_start = time.perf_counter()
    rows = len(log.recent(limit=-1))
    log.recent(limit=100)
    query_ms = (time.perf_counter() - query_start) * 1000.0
    return SoakResult(frames, seconds, frames / seconds, before, after, after - before, rows, errors, query_ms)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--frames", type=int, default=10_000, help="frames after a warm-up of 50 (default 10000)")
    parser.add_argument("--json", action="store_true")


def run_from_args(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="dinoad-soak-") as folder:
        result = run_soak(args.frames, Path(folder))
    data = {**asdict(result), "passed": result.passed, "limit_mb": MEMORY_GROWTH_LIMIT_MB}
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print(f"{result.frames} frames in {result.seconds:.0f} s ({result.frames_per_second:.1f} fps); "
              f"memory {result.rss_before_mb:.0f} -> {result.rss_after_mb:.0f} MB "
              f"(growth {result.growth_mb:+.1f} MB, limit {MEMORY_GROWTH_LIMIT_MB:.0f}); "
              f"log rows {result.log_rows}, write errors {result.log_errors}, "
              f"query {result.recent_query_ms:.1f} ms: {'PASS' if result.passed else 'FAIL'}")
    return 0 if result.passed else 1
