"""The validation report on disk, after training or after the user moves the threshold.

Files (JSON written atomically):

- ``results/val/raw_scores.json``: image names, scores and object fractions per class.
- ``results/val/statistics.json``: threshold, metrics with 95 % Wilson intervals, image AUROC,
  average precision, pixel AUROC, per-class statistics, separation (gap, overlap, quality), warnings.
- ``results/threshold_validation.json``: every test image's verdict at the threshold, and what
  each threshold method would have chosen on the same scores.
- ``results/background_baseline.json``: background scores, mean, std, interval, the background
  bank, and the no-part validation on every test image.
- ``results/val/*.png``: every chart of ``dinoad.charts`` (vl-convert, offline).
- ``results/val/report.html``: one self-contained page (charts embedded) for a quality lead.
"""

from __future__ import annotations

import base64
import html
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dinoad.background import BackgroundFit, NoPartDecision, baseline_summary, decide_no_part, no_part_offenders
from dinoad.calibration import CalibrationError, ThresholdChoice, choose_threshold, separation
from dinoad.charts import validation_charts
from dinoad.config import THRESHOLD_METHODS, ProjectConfig
from dinoad.errors import ProjectError
from dinoad.metrics import average_precision, image_auroc, score_statistics, threshold_metrics
from dinoad.project import Project
from dinoad.storage import read_json, write_bytes_atomic, write_json_atomic

if TYPE_CHECKING:
    from dinoad.pipeline import Evaluation

log = logging.getLogger(__name__)

VAL_DIR = "val"
RAW_SCORES_FILE = "raw_scores.json"
STATISTICS_FILE = "statistics.json"
THRESHOLD_VALIDATION_FILE = "threshold_validation.json"
BACKGROUND_BASELINE_FILE = "background_baseline.json"
HTML_REPORT_FILE = "report.html"
PNG_SCALE = 2  # PNG pixels per chart unit: sharp on a high-density screen and in print
CLASSES = ("good", "defect")
RATES = ("accuracy", "precision", "recall", "specificity", "fpr", "fnr")


@dataclass
class Validation:
    """One validation: the scores, the chosen threshold and everything measured on them."""

    raw: dict[str, Any]  # raw_scores.json
    statistics: dict[str, Any]  # statistics.json
    threshold_validation: dict[str, Any]  # threshold_validation.json
    background: dict[str, Any]  # background_baseline.json
    choice: ThresholdChoice | None = None
    no_part_interval: tuple[float, float] | None = None  # what raw_ad_score_interval becomes
    no_part: NoPartDecision | None = None  # set by training: which no-part model to keep on disk
    files: list[Path] = field(default_factory=list)

    @property
    def threshold(self) -> float | None:
        return self.statistics["threshold"]

    @property
    def warnings(self) -> list[str]:
        return self.statistics["warnings"]

    def scores(self, label: str) -> list[float]:
        return self.raw[label]["scores"]

    def names(self, label: str) -> list[str]:
        return self.raw[label]["names"]


def raw_scores(evaluation: Evaluation) -> dict[str, Any]:
    return {
        "good": {"names": list(evaluation.good_names), "scores": list(evaluation.good_scores),
                 "object_fractions": list(evaluation.good_object_fractions)},
        "defect": {"names": list(evaluation.defect_names), "scores": list(evaluation.defect_scores),
                   "object_fractions": list(evaluation.defect_object_fractions)},
    }


def build_validation(evaluation: Evaluation, fit: BackgroundFit, config: ProjectConfig) -> Validation:
    """Calibrate the threshold, validate the no-part method on every test image, measure everything."""
    raw = raw_scores(evaluation)
    images = [(label, name, score, fraction)
              for label in CLASSES
              for name, score, fraction in zip(raw[label]["names"], raw[label]["scores"],
                                               raw[label]["object_fractions"], strict=True)]
    decision = decide_no_part(fit, images, config)
    validation = assemble(raw, config, evaluation.pixel_auroc, baseline_summary(fit, decision, config))
    validation.no_part_interval = decision.interval
    validation.no_part = decision
    return validation


def assemble(raw: dict[str, Any], config: ProjectConfig, pixel_auroc: float | None,
             background: dict[str, Any]) -> Validation:
    """Threshold and statistics from raw scores (no model needed: also used when the user sets a threshold)."""
    choice, error = None, None
    try:
        choice = choose_threshold(raw["good"]["scores"], raw["defect"]["scores"], config)
    except CalibrationError as exc:
        error = str(exc)
    threshold = None if choice is None else choice.threshold
    statistics = _statistics(raw, threshold, config, pixel_auroc, background, choice, error)
    return Validation(raw, statistics, _threshold_validation(raw, config, threshold), background, choice)


def current_statistics(evaluation: Evaluation, config: ProjectConfig) -> dict[str, Any]:
    """Statistics of fresh scores at the project's saved threshold (no recalibration), with the
    test images the saved no-part model judges "no part" (``evaluate`` in the CLI)."""
    raw = raw_scores(evaluation)
    interval = tuple(config.raw_ad_score_interval) if config.raw_ad_score_interval else None
    images = [(label, name, score, fraction)
              for label in CLASSES
              for name, score, fraction in zip(raw[label]["names"], raw[label]["scores"],
                                               raw[label]["object_fractions"], strict=True)]
    bank_decides = config.background_method == "background_bank" and any(f is not None for *_, f in images)
    offenders = no_part_offenders("score_interval", images, interval, config.min_object_fraction) if interval else []
    if bank_decides:
        offenders += no_part_offenders("background_bank", images, None, config.min_object_fraction)
    enabled = interval is not None or bank_decides
    errors = [f"{len(offenders)} test image(s) with a part in view are judged 'no part'; retrain"] if offenders else []
    background = {"method": config.background_method, "enabled": enabled, "errors": errors,
                  "no_part_test_images": offenders}
    statistics = _statistics(raw, config.threshold, config, evaluation.pixel_auroc, background, None, None)
    statistics["method_used"] = (config.validation_metrics or {}).get("method_used")
    statistics["no_part"]["no_part_test_images"] = offenders
    return statistics


def _statistics(raw: dict[str, Any], threshold: float | None, config: ProjectConfig, pixel_auroc: float | None,
                background: dict[str, Any], choice: ThresholdChoice | None, error: str | None) -> dict[str, Any]:
    good, defect = raw["good"]["scores"], raw["defect"]["scores"]
    warnings = ([error] if error else []) + (choice.warnings if choice else [])
    warnings += background.get("errors", []) + background.get("warnings", [])
    return {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "threshold": threshold,
        "threshold_method": config.threshold_method,
        "method_used": None if choice is None else choice.method_used,
        "good_reference": None if choice is None else choice.good_reference,
        "defect_reference": None if choice is None else choice.defect_reference,
        "notes": [] if choice is None else choice.notes,
        "calibration_error": error,
        "metrics": {
            "at_threshold": None if threshold is None else threshold_metrics(good, defect, threshold).to_dict(),
            "image_auroc": image_auroc(good, defect),
            "average_precision": average_precision(good, defect),
            "pixel_auroc": pixel_auroc,
        },
        "classes": {label: score_statistics(raw[label]["scores"]) for label in CLASSES},
        "separation": separation(good, defect).to_dict(),
        "no_part": {key: background.get(key) for key in ("method", "enabled", "errors")},
        "warnings": warnings,
    }


def _threshold_validation(raw: dict[str, Any], config: ProjectConfig, threshold: float | None) -> dict[str, Any]:
    good, defect = raw["good"]["scores"], raw["defect"]["scores"]
    images = []
    for label in CLASSES:
        for name, score in zip(raw[label]["names"], raw[label]["scores"], strict=True):
            verdict = None if threshold is None else ("NOK" if score >= threshold else "OK")
            correct = None if verdict is None else (verdict == "NOK") == (label == "defect")
            images.append({"class": label, "name": name, "score": score, "verdict": verdict, "correct": correct})
    candidates = {}
    for method in THRESHOLD_METHODS:
        try:
            choice = choose_threshold(good, defect, config.replace(threshold_method=method))
        except CalibrationError as exc:
            candidates[method] = {"threshold": None, "reason": str(exc)}
            continue
        metrics = threshold_metrics(good, defect, choice.threshold)
        candidates[method] = {"threshold": choice.threshold, "method_used": choice.method_used,
                              "f1": metrics.f1, "counts": metrics.counts.to_dict(),
                              "fpr": metrics.fpr.value, "fnr": metrics.fnr.value}
    return {
        "threshold": threshold,
        "threshold_method": config.threshold_method,
        "rule": "score >= threshold is NOK",
        "images": images,
        "misjudged": [f"{i['class']}/{i['name']}" for i in images if i["correct"] is False],
        "candidates": candidates,
    }


def config_metrics(validation: Validation) -> dict[str, Any]:
    """The compact metrics kept in config.json next to the threshold."""
    stats = validation.statistics
    at = stats["metrics"]["at_threshold"]
    summary: dict[str, Any] = {
        "validated_at": stats["created_at"],
        "threshold": stats["threshold"],
        "method_used": stats["method_used"],
        "good_images": stats["classes"]["good"]["count"],
        "defect_images": stats["classes"]["defect"]["count"],
        "image_auroc": stats["metrics"]["image_auroc"],
        "average_precision": stats["metrics"]["average_precision"],
        "pixel_auroc": stats["metrics"]["pixel_auroc"],
        "separation": stats["separation"]["quality"],
        "no_part_enabled": stats["no_part"]["enabled"],
    }
    if at is not None:
        summary["counts"] = at["counts"]
        summary["f1"] = at["f1"]
        for rate in RATES:
            summary[rate] = {key: at[rate][key] for key in ("value", "low", "high")}
    return summary


def save_to_config(project: Project, validation: Validation) -> ProjectConfig:
    """Write threshold, no-part interval and metrics into config.json (atomically), keeping any other
    setting the user changed meanwhile."""
    current = project.load_config()
    updated = current.replace(
        threshold=validation.threshold,
        raw_ad_score_interval=list(validation.no_part_interval) if validation.no_part_interval else None,
        validation_metrics=config_metrics(validation),
    )
    project.save_config(updated)
    return updated


def chart_pngs(validation: Validation) -> dict[str, bytes]:
    """Every validation chart as PNG bytes; a chart that fails to render is logged and left out."""
    import vl_convert

    pngs = {}
    charts = validation_charts(validation.scores("good"), validation.scores("defect"), validation.threshold,
                               validation.names("good"), validation.names("defect"))
    for name, chart in charts.items():
        try:
            pngs[name] = vl_convert.vegalite_to_png(chart.to_json(), scale=PNG_SCALE)
        except Exception as exc:  # vl-convert reports rendering problems as plain exceptions
            log.warning("could not render chart %s as PNG: %s", name, exc)
    return pngs


def write_validation(project: Project, validation: Validation, export_png: bool = True) -> list[Path]:
    """Write every report file; returns their paths (also kept in ``validation.files``)."""
    results = project.results_dir
    val_dir = results / VAL_DIR
    files = {
        val_dir / RAW_SCORES_FILE: validation.raw,
        val_dir / STATISTICS_FILE: validation.statistics,
        results / THRESHOLD_VALIDATION_FILE: validation.threshold_validation,
        results / BACKGROUND_BASELINE_FILE: validation.background,
    }
    for path, data in files.items():
        write_json_atomic(path, data)
    written = list(files)
    pngs = chart_pngs(validation) if export_png else {}
    for name, data in pngs.items():
        path = val_dir / f"{name}.png"
        write_bytes_atomic(path, data)
        written.append(path)
    report = val_dir / HTML_REPORT_FILE
    write_bytes_atomic(report, html_report(project.name, validation, pngs).encode("utf-8"))
    written.append(report)
    validation.files = written
    return written


def load_raw_scores(project: Project) -> dict[str, Any]:
    path = project.results_dir / VAL_DIR / RAW_SCORES_FILE
    if not path.is_file():
        raise ProjectError(f"project {project.name!r} has no validation scores yet: train it first")
    return read_json(path)


def set_manual_threshold(project: Project, value: float, export_png: bool = True) -> Validation:
    """Use ``value`` as the project's threshold (method ``manual``): recompute every statistic from the
    saved scores, rewrite the report files and config.json. No model is needed."""
    raw = load_raw_scores(project)
    config = project.load_config().replace(threshold_method="manual", manual_threshold=float(value))
    background_path = project.results_dir / BACKGROUND_BASELINE_FILE
    background = read_json(background_path) if background_path.is_file() else {"method": None, "enabled": False}
    statistics_path = project.results_dir / VAL_DIR / STATISTICS_FILE
    pixel = read_json(statistics_path)["metrics"]["pixel_auroc"] if statistics_path.is_file() else None
    validation = assemble(raw, config, pixel, background)
    interval = config.raw_ad_score_interval
    validation.no_part_interval = tuple(interval) if interval else None
    write_validation(project, validation, export_png)
    project.save_config(config.replace(threshold=validation.threshold, validation_metrics=config_metrics(validation)))
    return validation


# ---------------------------------------------------------------------------------------------
# HTML


def _format(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_format(v) for v in value) + "]"
    return str(value)


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_format(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _list(items: list[str], css: str) -> str:
    if not items:
        return ""
    return f'<ul class="{css}">' + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>"


def html_report(project_name: str, validation: Validation, pngs: dict[str, bytes]) -> str:
    """A single HTML page with every number and chart (PNG data URIs): no network, no scripts."""
    stats = validation.statistics
    metrics = stats["metrics"]
    at = metrics["at_threshold"]
    parts = [f"<h1>Validation report: {html.escape(project_name)}</h1>",
             f"<p>Created {html.escape(stats['created_at'])}. Rule: score &ge; threshold is NOK.</p>"]
    threshold_line = (f"Threshold {_format(stats['threshold'])} by {html.escape(str(stats['method_used']))}"
                      f" (configured: {html.escape(stats['threshold_method'])})" if stats["threshold"] is not None
                      else "No threshold: " + html.escape(stats["calibration_error"] or "not calibrated"))
    parts.append(f"<h2>Threshold</h2><p><b>{threshold_line}</b></p>")
    errors = validation.background.get("errors", [])
    parts.append(_list(errors, "errors"))
    parts.append(_list([w for w in stats["warnings"] if w not in errors], "warnings"))
    parts.append(_list(stats["notes"], "notes"))
    if at is not None:
        rows = [[name, at[name]["value"], at[name]["low"], at[name]["high"],
                 f"{at[name]['successes']}/{at[name]['trials']}"] for name in RATES]
        rows.append(["f1", at["f1"], None, None, ""])
        parts.append("<h2>At the threshold (95 % Wilson intervals)</h2>")
        parts.append(_table(["metric", "value", "low", "high", "count"], rows))
        counts = at["counts"]
        parts.append(_table(["", "verdict OK", "verdict NOK"],
                            [["good", counts["tn"], counts["fp"]], ["defect", counts["fn"], counts["tp"]]]))
    parts.append("<h2>Threshold-free</h2>")
    parts.append(_table(["image AUROC", "average precision", "pixel AUROC"],
                        [[metrics["image_auroc"], metrics["average_precision"], metrics["pixel_auroc"]]]))
    separation_data = stats["separation"]
    parts.append("<h2>Separation</h2>")
    parts.append(_table(["gap", "overlap", "good >= lowest defect", "defects <= highest good", "quality"],
                        [[separation_data["gap"], separation_data["overlap"], separation_data["good_above_min_defect"],
                          separation_data["defect_below_max_good"], separation_data["quality"]]]))
    parts.append("<h2>Scores per class</h2>")
    rows = []
    for label in CLASSES:
        s = stats["classes"][label]
        pct = s.get("percentiles", {})
        rows.append([label, s["count"], s.get("min"), s.get("median"), s.get("mean"), s.get("std"),
                     pct.get("p95"), pct.get("p99"), s.get("max")])
    parts.append(_table(["class", "count", "min", "median", "mean", "std", "p95", "p99", "max"], rows))
    background = validation.background
    parts.append("<h2>No part in view</h2>")
    parts.append(_table(["method", "enabled", "background images", "interval"],
                        [[background.get("method"), background.get("enabled"), len(background.get("images", [])),
                          background.get("interval")]]))
    for name, outcome in background.get("validation", {}).items():
        offenders = outcome["no_part_test_images"]
        verdict = ("passed: no test image judged 'no part'" if outcome["passed"]
                   else "FAILED: " + ", ".join(f"{o['class']}/{o['name']}" for o in offenders))
        parts.append(f"<p>{html.escape(name)}: {html.escape(verdict)}</p>")
    parts.append("<h2>Charts</h2>")
    for name, data in pngs.items():
        encoded = base64.b64encode(data).decode("ascii")
        parts.append(f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{encoded}">'
                     f"<figcaption>{html.escape(name.replace('_', ' '))}</figcaption></figure>")
    images = validation.threshold_validation["images"]
    parts.append("<h2>Every test image</h2>")
    parts.append(_table(["class", "image", "score", "verdict", "correct"],
                        [[i["class"], i["name"], i["score"], i["verdict"], i["correct"]] for i in images]))
    style = ("body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;margin:.5em 0}"
             "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}ul.errors{color:#b00020;font-weight:bold}"
             "ul.warnings{color:#8a5a00}img{max-width:100%}figure{display:inline-block;margin:.5em}")
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>Validation report: {html.escape(project_name)}</title><style>{style}</style></head><body>"
            + "".join(parts) + "</body></html>\n")
