"""Timing helpers and a description of the machine a benchmark ran on.

Candidates that are compared are timed interleaved (A, B, A, B, ...), so a burst of load from
another process hits all of them alike and the ratio stays meaningful on a shared machine.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True)
class Timing:
    """Wall-clock samples of one candidate, in milliseconds."""

    samples_ms: tuple[float, ...]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def min_ms(self) -> float:
        return min(self.samples_ms)

    def to_dict(self) -> dict[str, float | list[float]]:
        return {"median_ms": self.median_ms, "min_ms": self.min_ms, "samples_ms": list(self.samples_ms)}


def time_once(fn: Callable[[], object]) -> float:
    """Milliseconds one call of ``fn`` takes."""
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000.0


def interleaved(candidates: dict[str, Callable[[], object]], repeats: int, warmup: int = 1) -> dict[str, Timing]:
    """Time each candidate ``repeats`` times, alternating between them, after ``warmup`` untimed rounds."""
    for _ in range(warmup):
        for fn in candidates.values():
            fn()
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(max(1, repeats)):
        for name, fn in candidates.items():
            samples[name].append(time_once(fn))
    return {name: Timing(tuple(values)) for name, values in samples.items()}


def measure(fn: Callable[[], object], repeats: int, warmup: int = 1) -> Timing:
    return interleaved({"only": fn}, repeats, warmup)["only"]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_description() -> dict[str, object]:
    """What the numbers depend on: CPU, cores, libraries, threading variables, load, date."""
    import numpy
    import torch

    from dinoad.backbone import cpu_supports_bf16

    try:
        import faiss

        faiss_version: str | None = faiss.__version__
    except ImportError:
        faiss_version = None
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cpu_bf16": cpu_supports_bf16(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "faiss": faiss_version,
        "env": {name: os.environ.get(name) for name in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "OPENBLAS_CORETYPE")},
        "load_average_1_5_15": list(load) if load else None,
    }
