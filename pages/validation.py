"""Validation: metrics with Wilson intervals, every calibration chart, a live threshold slider,
save as manual threshold, a heatmap gallery of the test images, and the report download."""

import numpy as np
import pandas as pd
import streamlit as st

import app_support
from dinoad.charts import validation_charts
from dinoad.errors import DinoadError
from dinoad.images import load_image
from dinoad.metrics import Rate, threshold_metrics
from dinoad.overlay import colour_scale_max, heatmap_overlay
from dinoad.report import (
    STATISTICS_FILE,
    THRESHOLD_VALIDATION_FILE,
    VAL_DIR,
    load_raw_scores,
    set_manual_threshold,
)
from dinoad.report_archive import report_zip
from dinoad.storage import read_json

SLIDER_KEY = "threshold_slider"
SLIDER_OWNER_KEY = "threshold_slider_for"  # (project, bank version, saved threshold) the slider was set from
SLIDER_STEPS = 400
SLIDER_PADDING = 0.05  # share of the score range added below and above the slider's range
GALLERY_LIMIT = 24
GALLERY_COLUMNS = 4
GALLERY_WIDTH = 240
CATEGORY_OF_CLASS = {"good": "test/good", "defect": "test/defect"}


def read_optional(path):
    try:
        return read_json(path) if path.is_file() else None
    except (OSError, ValueError):
        return None


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def rate_card(column, label: str, rate: Rate, help_text: str) -> None:
    column.metric(label, percent(rate.value), help=help_text)
    if rate.value is not None:
        column.caption(f"95 % CI {rate.low:.0%}–{rate.high:.0%} · {rate.successes}/{rate.trials}")
    else:
        column.caption(f"no images for this rate (0/{rate.trials})")


def slider_range(scores: list[float]) -> tuple[float, float, float]:
    low, high = min(scores), max(scores)
    pad = (high - low) * SLIDER_PADDING or max(abs(high) * SLIDER_PADDING, 1e-3)
    low, high = low - pad, high + pad
    return float(low), float(high), float((high - low) / SLIDER_STEPS)


def threshold_slider(project_name: str, version: str | None, saved: float | None, scores: list[float]) -> float:
    low, high, step = slider_range(scores + ([saved] if saved is not None else []))
    owner = (project_name, version, saved)
    if st.session_state.get(SLIDER_OWNER_KEY) != owner or SLIDER_KEY not in st.session_state:
        # A new project, a retrained bank or a saved threshold: start the slider from the saved value.
        st.session_state[SLIDER_KEY] = float(saved) if saved is not None else float(np.median(scores))
        st.session_state[SLIDER_OWNER_KEY] = owner
    return st.slider("Threshold (a score at or above it is NOK)", min_value=low, max_value=high, step=step,
                     format="%.4f", key=SLIDER_KEY)


def metric_cards(metrics, statistics: dict | None) -> None:
    counts = metrics.counts
    first = st.columns(4)
    rate_card(first[0], "Accuracy", metrics.accuracy, "Share of test images judged correctly.")
    rate_card(first[1], "Precision", metrics.precision, "Of the images judged NOK, the share that are defects.")
    rate_card(first[2], "Recall (defects caught)", metrics.recall, "Share of defect images judged NOK.")
    first[3].metric("F1", "n/a" if metrics.f1 is None else f"{metrics.f1:.3f}",
                    help="Harmonic mean of precision and recall.")
    second = st.columns(4)
    rate_card(second[0], "False alarm rate (FPR)", metrics.fpr, "Share of good images judged NOK.")
    rate_card(second[1], "Escape rate (FNR)", metrics.fnr, "Share of defect images judged OK.")
    overall = (statistics or {}).get("metrics", {})
    second[2].metric("Image AUROC", "n/a" if overall.get("image_auroc") is None else f"{overall['image_auroc']:.3f}",
                     help="Threshold-free: probability that a defect scores above a good image.")
    second[3].metric("Average precision",
                     "n/a" if overall.get("average_precision") is None else f"{overall['average_precision']:.3f}",
                     help="Threshold-free area under the precision-recall curve.")
    if overall.get("pixel_auroc") is not None:
        st.caption(f"Pixel AUROC (ground-truth masks): {overall['pixel_auroc']:.3f}")
    with st.container(key="confusion_counts"):
        st.markdown(f"At this threshold: **{counts.tp}** defects caught (TP) · **{counts.tn}** good passed (TN) · "
                    f"**{counts.fp}** false alarms (FP) · **{counts.fn}** escaped defects (FN)")


def operating_points(threshold_validation: dict | None, good, defect, current: float) -> None:
    rows = []
    for method, candidate in ((threshold_validation or {}).get("candidates") or {}).items():
        value = candidate.get("threshold")
        if value is None:
            rows.append({"method": method, "threshold": None, "note": candidate.get("reason")})
            continue
        at = threshold_metrics(good, defect, value)
        rows.append({"method": method, "threshold": value, "FP": at.counts.fp, "FN": at.counts.fn,
                     "F1": at.f1, "note": candidate.get("method_used") if candidate.get("method_used") != method
                     else ""})
    at = threshold_metrics(good, defect, current)
    rows.append({"method": "slider (now)", "threshold": current, "FP": at.counts.fp, "FN": at.counts.fn,
                 "F1": at.f1, "note": "not saved"})
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="operating_points")


def gallery(project, raw: dict, threshold: float, inspector) -> None:
    rows = [(score, label, name)
            for label in ("good", "defect")
            for name, score in zip(raw[label]["names"], raw[label]["scores"], strict=True)]
    choice = st.segmented_control("Show", ["all", "misjudged", "good", "defect"], default="all",
                                  key="gallery_filter")
    show_heatmaps = st.toggle("Heatmaps", value=inspector is not None, disabled=inspector is None,
                              key="gallery_heatmaps",
                              help="Anomaly maps in threshold units: the colour scale runs from 0 to twice the "
                                   "threshold, so a good image stays cool. White outlines mark areas at or "
                                   "above the threshold.")

    def misjudged(score: float, label: str) -> bool:
        return (score >= threshold) != (label == "defect")

    if choice == "misjudged":
        rows = [r for r in rows if misjudged(r[0], r[1])]
    elif choice in ("good", "defect"):
        rows = [r for r in rows if r[1] == choice]
    rows.sort(reverse=True)
    if not rows:
        st.caption("No images to show.")
        return
    if len(rows) > GALLERY_LIMIT:
        st.caption(f"Showing the {GALLERY_LIMIT} highest scores of {len(rows)}.")
    columns = st.columns(GALLERY_COLUMNS)
    for index, (score, label, name) in enumerate(rows[:GALLERY_LIMIT]):
        path = project.images_dir(CATEGORY_OF_CLASS[label]) / name
        with columns[index % GALLERY_COLUMNS]:
            if not path.is_file():
                st.caption(f"{label}/{name}: the image was deleted after training")
                continue
            rgb = load_image(path)
            if show_heatmaps:
                heat = app_support.anomaly_map_of(project, inspector, path)
                rgb = heatmap_overlay(rgb, heat, colour_scale_max(threshold, heat), threshold)
            verdict = "NOK" if score >= threshold else "OK"
            st.image(rgb, width=GALLERY_WIDTH, caption=f"{label}/{name} · score {score:.4f} · {verdict}")
            if misjudged(score, label):
                kind = "false alarm (good judged NOK)" if label == "good" else "escaped defect (judged OK)"
                st.markdown(f":red-background[**{kind}**]")


st.title("Validation")
project, status = app_support.require_readable_project("validation")
if not status.trained:
    app_support.show_next_step(status, needed="trained", key="validation_next")
elif status.retrain_required:
    st.warning("Settings changed since training (" + "; ".join(status.retrain_reasons) + "): these results "
               "describe the previous settings. Retrain to validate the current ones.")
    app_support.go_to("train", "Go to Train", key="validation_retrain", primary=False)
try:
    raw = load_raw_scores(project)
except DinoadError as exc:
    st.info(f"{exc}.")
    app_support.go_to("train", "Go to Train", key="validation_need_scores")
    st.stop()

val_dir = project.results_dir / VAL_DIR
statistics = read_optional(val_dir / STATISTICS_FILE)
threshold_validation = read_optional(project.results_dir / THRESHOLD_VALIDATION_FILE)
good, defect = raw["good"]["scores"], raw["defect"]["scores"]
config = status.config
saved = config.threshold
if not good and not defect:
    st.info("No test images were scored: capture good parts beyond the shots and some defects, then retrain.")
    app_support.go_to("capture", "Go to Capture", key="validation_need_tests")
    st.stop()

for warning in (statistics or {}).get("warnings", []):
    st.warning(warning)
for note in (statistics or {}).get("notes", []):
    st.caption(note)
method = (statistics or {}).get("method_used") or config.threshold_method
st.write(f"Saved threshold: **{'not set' if saved is None else f'{saved:.4f}'}** (method {method}) · "
         f"{len(good)} good and {len(defect)} defect test images · "
         f"separation: {((statistics or {}).get('separation') or {}).get('quality') or 'n/a'}")

threshold = threshold_slider(project.name, status.model_version, saved, good + defect)
save_column, download_column = st.columns(2)
with save_column:
    if st.button("Save threshold", type="primary", key="save_threshold",
                 help="Use the slider's value as the project's threshold (method becomes manual) and "
                      "rewrite the report."):
        try:
            with st.spinner("Saving the threshold and rewriting the report..."):
                set_manual_threshold(project, threshold)
        except DinoadError as exc:
            app_support.show_error(exc)
        else:
            app_support.flash("success", f"Threshold saved: {threshold:.4f} (method manual).")
            st.rerun()
with download_column:
    try:
        archive = report_zip(project)
    except DinoadError as exc:
        st.caption(str(exc))
    else:
        st.download_button("Download report (zip)", archive, file_name=f"{project.name}-validation.zip",
                           mime="application/zip", key="download_report",
                           help="JSON statistics, chart PNGs and the HTML report at the saved threshold.")

metrics = threshold_metrics(good, defect, threshold)
metric_cards(metrics, statistics)

st.subheader("Operating points")
operating_points(threshold_validation, good, defect, threshold)

st.subheader("Charts")
charts = validation_charts(good, defect, threshold, raw["good"]["names"], raw["defect"]["names"])
chart_columns = st.columns(2)
for index, (name, chart) in enumerate(charts.items()):
    with chart_columns[index % 2]:
        st.altair_chart(chart, key=f"chart_{name}")

st.subheader("Test images")
try:
    inspector = app_support.inspector_for(project)
except DinoadError as exc:
    st.caption(f"Heatmaps unavailable: {exc}")
    inspector = None
gallery(project, raw, threshold, inspector)
