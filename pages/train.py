"""Train: settings summary, Train button, live progress with stages, elapsed time and an estimate."""

import pandas as pd
import streamlit as st

import app_support
from dinoad.config_form import field_specs
from dinoad.errors import DinoadError
from dinoad.pipeline import train
from dinoad.train_progress import ProgressTracker, format_seconds

RESULT_KEY = "train_result"


def settings_summary(config) -> pd.DataFrame:
    values = config.to_dict()
    rows = [{"setting": spec.label, "value": str(values[spec.name])} for spec in field_specs() if not spec.advanced]
    return pd.DataFrame(rows)


def run_training(project, config) -> None:
    tracker = ProgressTracker()
    with st.status("Training...", expanded=True) as box:
        bar = st.progress(0.0, text="loading the model")
        finished = st.container()

        def progress(done: int, total: int, message: str) -> None:
            before = len(tracker.finished_stages)
            fraction, line = tracker.update(done, total, message)
            for stage in tracker.finished_stages[before:]:
                finished.write(f":material/check: {stage}")
            bar.progress(fraction, text=line)

        try:
            backbone = app_support.cached_backbone(config.model_id, config.dtype)
            result = train(project, backbone=backbone, progress=progress)
        except DinoadError as exc:
            box.update(label="Training failed", state="error", expanded=True)
            st.error(str(exc))
            return
        if tracker.last_message:
            tracker.finished_stages.append(tracker.last_message)
        box.update(label=f"Trained in {format_seconds(result.seconds)}", state="complete", expanded=False)
    validation = getattr(result, "validation", None)
    st.session_state[RESULT_KEY] = {
        "project": project.name,
        "seconds": result.seconds,
        "patches": result.bank.info.num_patches,
        "images": result.bank.info.num_train_images,
        "version": result.bank.version,
        "auroc": result.evaluation.image_auroc,
        "stages": list(tracker.finished_stages),
        "warnings": list(getattr(validation, "warnings", None) or []),
    }
    st.rerun()  # redraw the page (badges, buttons) for the trained project


def show_result(project) -> None:
    result = st.session_state.get(RESULT_KEY)
    if not result or result["project"] != project.name:
        return
    config = project.load_config()
    st.success(f"Trained on {result['images']} good image(s) in {format_seconds(result['seconds'])}: "
               f"memory bank of {result['patches']:,} patches, version {result['version']}.")
    columns = st.columns(3)
    columns[0].metric("Image AUROC", "n/a" if result["auroc"] is None else f"{result['auroc']:.3f}")
    columns[1].metric("Threshold", "not set" if config.threshold is None else f"{config.threshold:.4g}")
    columns[2].metric("Threshold method", config.threshold_method)
    for warning in result["warnings"]:
        st.warning(warning)
    with st.expander("Training stages"):
        for stage in result["stages"]:
            st.write(f":material/check: {stage}")


st.title("Train")
project, status = app_support.require_readable_project("train")
app_support.show_next_step(status, needed="images", key="train_need_images")
config = status.config

left, right = st.columns([3, 2])
with left:
    st.subheader("Settings")
    st.dataframe(settings_summary(config), hide_index=True)
    app_support.go_to("projects", "Change settings", key="train_edit_settings", primary=False)
with right:
    st.subheader("Images")
    counts = status.counts
    st.write(f"Memory bank: **{counts['train/good']}** good image(s) (shots: {config.shots})")
    st.write(f"Test: **{counts['test/good']}** good, **{counts['test/defect']}** defect")
    st.write(f"Background: **{counts['background']}**")
    if counts["train/good"] < config.shots:
        st.warning(f"Only {counts['train/good']} good training image(s) for {config.shots} shots: "
                   "capture more good parts, or lower the shots in the settings.")
    if status.retrain_required:
        st.badge("Retrain required", icon=":material/warning:", color="orange")
        st.caption("Changed since training: " + "; ".join(status.retrain_reasons))
    elif status.trained:
        st.badge(f"Trained · version {status.model_version}", icon=":material/check:", color="green")

label = "Retrain" if status.trained else "Train"
if st.button(label, type="primary", key="train_button", icon=":material/model_training:"):
    run_training(project, config)
show_result(project)

if app_support.status_of(project).next_step() is None:
    app_support.go_to("validation", "Go to Validation", key="train_to_validation")
