"""Every validation chart, as Altair specs built from plain scores and a threshold.

Pure functions: no files, no project, no Streamlit. The report exports them to PNG and the
Validation page draws the same specs, so what the PNG shows is what the page shows.
A builder that lacks the data it needs (no defects for ROC, no threshold for a confusion
matrix) returns a small chart that says so instead of failing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

import altair as alt
import numpy as np
import pandas as pd

from dinoad.metrics import (
    ConfusionCounts,
    average_precision,
    image_auroc,
    pr_points,
    roc_points,
    threshold_metrics,
    threshold_sweep,
)

GOOD_COLOUR = "#2e7d32"
DEFECT_COLOUR = "#c62828"
THRESHOLD_COLOUR = "#222222"
CLASS_SCALE = alt.Scale(domain=["good", "defect"], range=[GOOD_COLOUR, DEFECT_COLOUR])
VERDICT_SCALE = alt.Scale(domain=["OK", "NOK"], range=[GOOD_COLOUR, DEFECT_COLOUR])
WIDTH = 420
HEIGHT = 260
SQUARE = 300
DEFAULT_BINS = 30
# KDE bandwidth: Scott's rule, but never below this share of the score range (or an absolute
# floor), so identical or single scores still draw a visible bump instead of nothing.
MIN_BANDWIDTH_SHARE = 0.01
MIN_BANDWIDTH = 1e-3
KDE_EXTENT_BANDWIDTHS = 3
NEED_BOTH_CLASSES = "needs test/good and test/defect images"

Chart = alt.TopLevelMixin


def score_table(
    good_scores: Sequence[float],
    defect_scores: Sequence[float],
    good_names: Sequence[str] | None = None,
    defect_names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row per image: ``class`` (good/defect), ``name``, ``score``."""
    good_names = list(good_names) if good_names is not None else [f"good {i + 1}" for i in range(len(good_scores))]
    defect_names = (list(defect_names) if defect_names is not None
                    else [f"defect {i + 1}" for i in range(len(defect_scores))])
    if len(good_names) != len(good_scores) or len(defect_names) != len(defect_scores):
        raise ValueError("each score needs exactly one image name")
    return pd.DataFrame({
        "class": ["good"] * len(good_scores) + ["defect"] * len(defect_scores),
        "name": good_names + defect_names,
        "score": [float(s) for s in good_scores] + [float(s) for s in defect_scores],
    })


def message_chart(text: str, title: str = "") -> alt.Chart:
    """A placeholder that says why a chart cannot be drawn."""
    return alt.Chart(pd.DataFrame({"message": [text]}), title=title).mark_text(size=14, color="#555555").encode(
        text="message:N"
    ).properties(width=WIDTH, height=80)


def _threshold_rule(threshold: float, axis: str) -> alt.Chart:
    data = pd.DataFrame({"threshold": [float(threshold)], "label": [f"threshold {threshold:.4g}"]})
    encoding = {axis: alt.X("threshold:Q") if axis == "x" else alt.Y("threshold:Q"), "tooltip": ["label:N"]}
    return alt.Chart(data).mark_rule(color=THRESHOLD_COLOUR, strokeDash=[6, 4], size=2).encode(**encoding)


def kde_bandwidth(scores: Sequence[float]) -> float:
    """Scott's rule on the pooled scores, floored so zero spread still gives a visible curve."""
    values = np.asarray(scores, dtype=np.float64)
    spread = float(values.std(ddof=1)) if values.size > 1 else 0.0
    scott = 1.06 * spread * values.size ** (-1 / 5) if values.size else 0.0
    score_range = float(values.max() - values.min()) if values.size else 0.0
    return max(scott, MIN_BANDWIDTH_SHARE * score_range, MIN_BANDWIDTH)


def kde_chart(good_scores: Sequence[float], defect_scores: Sequence[float], threshold: float | None = None) -> Chart:
    """Score density per class (unstacked, so each curve keeps its own shape) and the threshold."""
    table = score_table(good_scores, defect_scores)
    if table.empty:
        return message_chart("no validation scores yet", "Score density")
    bandwidth = kde_bandwidth(table["score"])
    lowest = float(table["score"].min()) - KDE_EXTENT_BANDWIDTHS * bandwidth
    # Distances are never negative: do not draw density below 0 when every score is >= 0.
    extent = [max(lowest, 0.0) if table["score"].min() >= 0 else lowest,
              float(table["score"].max()) + KDE_EXTENT_BANDWIDTHS * bandwidth]
    if threshold is not None:
        extent = [min(extent[0], threshold), max(extent[1], threshold)]
    density = alt.Chart(table, title="Score density: good vs defect").transform_density(
        "score", as_=["score", "density"], groupby=["class"], bandwidth=bandwidth, extent=extent
    ).mark_area(opacity=0.45, line=True).encode(
        x=alt.X("score:Q", title="anomaly score"),
        y=alt.Y("density:Q", stack=None, title="density"),
        color=alt.Color("class:N", scale=CLASS_SCALE, title="class"),
    )
    chart = density if threshold is None else density + _threshold_rule(threshold, "x")
    return chart.properties(width=WIDTH, height=HEIGHT)


def histogram_chart(
    good_scores: Sequence[float], defect_scores: Sequence[float], threshold: float | None = None,
    bins: int = DEFAULT_BINS,
) -> Chart:
    """Counts of scores per bin, one colour per class (overlaid), with the threshold."""
    table = score_table(good_scores, defect_scores)
    if table.empty:
        return message_chart("no validation scores yet", "Score histogram")
    bars = alt.Chart(table, title="Score histogram").mark_bar(opacity=0.6).encode(
        x=alt.X("score:Q", bin=alt.Bin(maxbins=bins), title="anomaly score"),
        y=alt.Y("count():Q", stack=None, title="images"),
        color=alt.Color("class:N", scale=CLASS_SCALE, title="class"),
    )
    chart = bars if threshold is None else bars + _threshold_rule(threshold, "x")
    return chart.properties(width=WIDTH, height=HEIGHT)


def boxplot_chart(
    good_scores: Sequence[float], defect_scores: Sequence[float], threshold: float | None = None
) -> Chart:
    """Min-max whiskers, quartile box and median per class, with the threshold."""
    table = score_table(good_scores, defect_scores)
    if table.empty:
        return message_chart("no validation scores yet", "Score boxplot")
    boxes = alt.Chart(table, title="Score distribution per class").mark_boxplot(extent="min-max", size=40).encode(
        x=alt.X("class:N", sort=["good", "defect"], title=None, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("score:Q", title="anomaly score"),
        color=alt.Color("class:N", scale=CLASS_SCALE, legend=None),
    )
    chart = boxes if threshold is None else boxes + _threshold_rule(threshold, "y")
    return chart.properties(width=SQUARE, height=HEIGHT)


def per_image_chart(
    good_scores: Sequence[float],
    defect_scores: Sequence[float],
    threshold: float | None = None,
    good_names: Sequence[str] | None = None,
    defect_names: Sequence[str] | None = None,
) -> Chart:
    """Two panels (good images, defect images): each image's score as a point, coloured by its
    verdict at the threshold, on a shared score axis with the threshold line."""
    table = score_table(good_scores, defect_scores, good_names, defect_names)
    if table.empty:
        return message_chart("no validation scores yet", "Per-image scores")
    if threshold is not None:
        table["verdict"] = np.where(table["score"] >= threshold, "NOK", "OK")
    panels = []
    for label in ("good", "defect"):
        rows = table[table["class"] == label]
        title = f"{label} images ({len(rows)})"
        if rows.empty:
            panels.append(message_chart(f"no {label} images", title))
            continue
        colour = (alt.Color("verdict:N", scale=VERDICT_SCALE, title="verdict") if threshold is not None
                  else alt.value(GOOD_COLOUR if label == "good" else DEFECT_COLOUR))
        points = alt.Chart(rows, title=title).mark_circle(size=70).encode(
            x=alt.X("name:N", sort=None, title="image", axis=alt.Axis(labelAngle=-60)),
            y=alt.Y("score:Q", title="anomaly score"),
            color=colour,
            tooltip=["name:N", alt.Tooltip("score:Q", format=".4f")] + (["verdict:N"] if threshold is not None else []),
        )
        panel = points if threshold is None else points + _threshold_rule(threshold, "y")
        panels.append(panel.properties(width=WIDTH // 2 + 60, height=HEIGHT))
    return alt.hconcat(*panels, title="Per-image scores").resolve_scale(y="shared")


def confusion_chart(counts: ConfusionCounts | None) -> Chart:
    """2 x 2 matrix: rows = truth (good / defect), columns = verdict (OK / NOK), count in each cell."""
    if counts is None:
        return message_chart("no threshold yet", "Confusion matrix")
    table = pd.DataFrame({
        "truth": ["good", "good", "defect", "defect"],
        "verdict": ["OK", "NOK", "OK", "NOK"],
        "cell": ["TN", "FP", "FN", "TP"],
        "count": [counts.tn, counts.fp, counts.fn, counts.tp],
    })
    table["label"] = table["cell"] + ": " + table["count"].astype(str)
    base = alt.Chart(table, title="Confusion matrix at the threshold").encode(
        x=alt.X("verdict:N", sort=["OK", "NOK"], title="verdict", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("truth:N", sort=["good", "defect"], title="truth"),
    )
    cells = base.mark_rect(stroke="white").encode(
        color=alt.Color("count:Q", scale=alt.Scale(scheme="blues"), legend=None)
    )
    text = base.mark_text(fontSize=18, fontWeight="bold").encode(
        text="label:N",
        color=alt.condition(alt.datum.count > max(table["count"].max(), 1) / 2, alt.value("white"),
                            alt.value("black")),
    )
    return (cells + text).properties(width=SQUARE, height=SQUARE * 2 // 3)


def metrics_vs_threshold_chart(
    good_scores: Sequence[float], defect_scores: Sequence[float], threshold: float | None = None
) -> Chart:
    """Accuracy, precision, recall, F1 and false-positive rate as the threshold moves over the scores."""
    if len(good_scores) == 0 or len(defect_scores) == 0:
        return message_chart(NEED_BOTH_CLASSES, "Metrics vs threshold")
    sweep = pd.DataFrame(threshold_sweep(good_scores, defect_scores))
    long = sweep.melt(id_vars="threshold", var_name="metric", value_name="value").dropna()
    lines = alt.Chart(long, title="Metrics vs threshold").mark_line().encode(
        x=alt.X("threshold:Q", title="threshold"),
        y=alt.Y("value:Q", title="value", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("metric:N", title="metric"),
        tooltip=["metric:N", alt.Tooltip("threshold:Q", format=".4f"), alt.Tooltip("value:Q", format=".3f")],
    )
    chart = lines if threshold is None else lines + _threshold_rule(threshold, "x")
    return chart.properties(width=WIDTH, height=HEIGHT)


def _operating_point(x: float | None, y: float | None, x_name: str, y_name: str) -> alt.Chart:
    data = pd.DataFrame({x_name: [x], y_name: [y], "label": ["operating point"]})
    return alt.Chart(data).mark_point(size=140, filled=True, color=THRESHOLD_COLOUR, shape="diamond").encode(
        x=f"{x_name}:Q", y=f"{y_name}:Q", tooltip=["label:N", f"{x_name}:Q", f"{y_name}:Q"]
    )


def roc_chart(good_scores: Sequence[float], defect_scores: Sequence[float], threshold: float | None = None) -> Chart:
    """ROC curve with its AUC in the title, the chance diagonal and the threshold's operating point."""
    auroc = image_auroc(good_scores, defect_scores)
    if auroc is None:
        return message_chart(NEED_BOTH_CLASSES, "ROC")
    points = roc_points(good_scores, defect_scores)
    curve_data = pd.DataFrame({"fpr": points["fpr"], "tpr": points["tpr"], "step": range(len(points["fpr"]))})
    # Drawn in threshold order (``order``): tied scores then give the diagonal segment they should.
    curve = alt.Chart(curve_data, title=f"ROC (image AUROC = {auroc:.3f})").mark_line(color=DEFECT_COLOUR).encode(
        x=alt.X("fpr:Q", title="false-positive rate", scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("tpr:Q", title="true-positive rate (recall)", scale=alt.Scale(domain=[0, 1])),
        order="step:Q",
    )
    diagonal = alt.Chart(pd.DataFrame({"fpr": [0.0, 1.0], "tpr": [0.0, 1.0]})).mark_line(
        color="#999999", strokeDash=[4, 4]
    ).encode(x="fpr:Q", y="tpr:Q")
    layers = [curve, diagonal]
    if threshold is not None:
        metrics = threshold_metrics(good_scores, defect_scores, threshold)
        layers.append(_operating_point(metrics.fpr.value, metrics.recall.value, "fpr", "tpr"))
    return alt.layer(*layers).properties(width=SQUARE, height=SQUARE)


def pr_chart(good_scores: Sequence[float], defect_scores: Sequence[float], threshold: float | None = None) -> Chart:
    """Precision-recall curve with the average precision in the title and the operating point."""
    ap = average_precision(good_scores, defect_scores)
    if ap is None:
        return message_chart(NEED_BOTH_CLASSES, "Precision-recall")
    points = pr_points(good_scores, defect_scores)
    curve_data = pd.DataFrame({"recall": points["recall"], "precision": points["precision"],
                               "step": range(len(points["recall"]))})
    # Threshold order with steps after each point: the step function that average precision sums.
    curve = alt.Chart(curve_data, title=f"Precision-recall (AP = {ap:.3f})").mark_line(
        color=DEFECT_COLOUR, interpolate="step-after"
    ).encode(
        x=alt.X("recall:Q", title="recall", scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("precision:Q", title="precision", scale=alt.Scale(domain=[0, 1])),
        order="step:Q",
    )
    layers = [curve]
    if threshold is not None:
        metrics = threshold_metrics(good_scores, defect_scores, threshold)
        precision = metrics.precision.value
        # No NOK verdict at all: precision is undefined; draw the point at recall 0, precision 1.
        layers.append(_operating_point(metrics.recall.value, 1.0 if precision is None else precision,
                                       "recall", "precision"))
    return alt.layer(*layers).properties(width=SQUARE, height=SQUARE)


def validation_charts(
    good_scores: Sequence[float],
    defect_scores: Sequence[float],
    threshold: float | None = None,
    good_names: Sequence[str] | None = None,
    defect_names: Sequence[str] | None = None,
) -> dict[str, Chart]:
    """Every validation chart by file-friendly name, in the order a report shows them."""
    counts = None
    if threshold is not None and math.isfinite(threshold):
        counts = threshold_metrics(good_scores, defect_scores, threshold).counts
    return {
        "score_kde": kde_chart(good_scores, defect_scores, threshold),
        "score_histogram": histogram_chart(good_scores, defect_scores, threshold),
        "score_boxplot": boxplot_chart(good_scores, defect_scores, threshold),
        "per_image_scores": per_image_chart(good_scores, defect_scores, threshold, good_names, defect_names),
        "confusion_matrix": confusion_chart(counts),
        "metrics_vs_threshold": metrics_vs_threshold_chart(good_scores, defect_scores, threshold),
        "roc": roc_chart(good_scores, defect_scores, threshold),
        "precision_recall": pr_chart(good_scores, defect_scores, threshold),
    }


LIVE_VERDICT_SCALE = alt.Scale(domain=["OK", "NOK", "NO PART", "UNCALIBRATED"],
                               range=[GOOD_COLOUR, DEFECT_COLOUR, "#9e9e9e", "#3c3ca0"])


def live_score_chart(times: Sequence[float], scores: Sequence[float], verdicts: Sequence[str],
                     threshold: float | None = None) -> Chart:
    """Score trend of live frames: one point per frame (``times`` in seconds since the epoch),
    coloured by its verdict, joined by a line, with the threshold as a dashed rule."""
    if not (len(times) == len(scores) == len(verdicts)):
        raise ValueError("each live frame needs a time, a score and a verdict")
    if not scores:
        return message_chart("no frames inspected yet", "Score trend")
    table = pd.DataFrame({
        "time": [datetime.fromtimestamp(float(t)) for t in times],  # the machine's local clock, as the log
        "score": [float(s) for s in scores],
        "verdict": list(verdicts),
    })
    x = alt.X("time:T", title="time", axis=alt.Axis(format="%H:%M:%S"))
    line = alt.Chart(table).mark_line(color="#bbbbbb").encode(x=x, y=alt.Y("score:Q", title="anomaly score"))
    points = alt.Chart(table).mark_circle(size=40).encode(
        x=x, y="score:Q", color=alt.Color("verdict:N", scale=LIVE_VERDICT_SCALE, title="verdict"),
        tooltip=[alt.Tooltip("time:T", format="%H:%M:%S.%L"), alt.Tooltip("score:Q", format=".4f"), "verdict:N"],
    )
    layers = [line, points]
    if threshold is not None and math.isfinite(threshold):
        layers.append(_threshold_rule(threshold, "y"))
    return alt.layer(*layers, title="Score trend").properties(width=WIDTH, height=HEIGHT)
