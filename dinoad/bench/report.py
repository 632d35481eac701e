"""Markdown rendering of benchmark results (tables a reader can paste into BENCHMARKS.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, float):
        if value == 0:
            return "0"
        magnitude = abs(value)
        if magnitude >= 100:
            return f"{value:.0f}"
        if magnitude >= 1:
            return f"{value:.2f}"
        if magnitude >= 1e-3:
            return f"{value:.4f}"
        return f"{value:.1e}"
    if isinstance(value, dict):
        return ", ".join(f"{key} {_cell(item)}" for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return "x".join(str(item) for item in value)
    return str(value)


def markdown_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A Markdown table of ``rows`` (dicts); columns default to every key in first-seen order."""
    if not rows:
        return "_no rows_\n"
    if columns is None:
        columns = list(dict.fromkeys(key for row in rows for key in row))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(column)) for column in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _load(values: Sequence[float] | None) -> str:
    return "/".join(f"{value:.2f}" for value in values) if values else "—"


FORWARD_COLUMNS = ("model", "size", "dtype", "batch", "ms_per_batch", "ms_per_image", "images_per_s", "gflops",
                   "peak_fraction")


def render_speed_markdown(results: dict[str, Any]) -> str:
    machine = results["machine"]
    sections = results["sections"]
    parts = [
        "## Speed",
        "",
        f"Machine: {machine['cpu']}, {machine['logical_cpus']} logical CPUs, {machine['torch_threads']} torch "
        f"threads, bf16 kernels: {_cell(machine['cpu_bf16'])}; torch {machine['torch']}, numpy {machine['numpy']}, "
        f"faiss {machine['faiss'] or 'not installed'}; env {_cell(machine['env'])}. Date {machine['date']}. "
        f"Load average (1/5/15 min) before: {_load(machine['load_average_1_5_15'])}, after: "
        f"{_load(machine.get('load_average_after'))}. Times are medians of interleaved runs.",
        "",
    ]
    if "peak" in sections:
        parts += ["### Matmul peak (GFLOP/s)", "", markdown_table(sections["peak"])]
    if "forward" in sections:
        parts += ["### Backbone forward (`Backbone.patch_features`, random weights)", "",
                  markdown_table(sections["forward"], FORWARD_COLUMNS),
                  "GFLOP/s counts matmul FLOPs; peak_fraction is against the same-dtype matmul peak above.", ""]
    if "knn" in sections:
        parts += ["### kNN: `KnnIndex.distances` vs faiss exact search (k = 1)", "",
                  markdown_table(sections["knn"]),
                  "speedup = faiss ms / dinoad ms of the medians; `best` = of the fastest runs. found = share of "
                  "the checked queries given their float64 nearest-neighbour distance (relative 1e-5); max_error "
                  "against float64.", ""]
    if sections.get("knn_accuracy"):
        parts += ["kNN accuracy on a typical and a near-duplicate bank (found / max_error as above; AUROC of "
                  "synthetic good/defect images scored by their max patch distance):", "",
                  markdown_table(sections["knn_accuracy"])]
    if "coreset" in sections:
        parts += ["### Coreset (`select_coreset`)", "", markdown_table(sections["coreset"])]
    if "pipeline" in sections:
        parts += ["### Training and live scoring vs bare forward passes", "", markdown_table(sections["pipeline"]),
                  "ratio = dinoad ms / forward ms of the medians; `ratio best` = of the fastest runs.", ""]
    if results.get("goals"):
        parts += ["### Goals", "", markdown_table(results["goals"], ("goal", "measured", "met"))]
    return "\n".join(parts)
