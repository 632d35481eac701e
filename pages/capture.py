"""Capture: guided steps (background, good, defect) from the camera or uploads, with quality checks."""

from pathlib import Path

import cv2
import numpy as np
import streamlit as st

import app_support
from dinoad.capture_checks import check_frame, thumbnail
from dinoad.capture_steps import STEPS, CaptureStep, first_incomplete, saver, step_by_key
from dinoad.errors import DinoadError, ImageError, StorageError
from dinoad.images import SUPPORTED_EXTENSIONS, decode_image, frame_to_rgb, load_image

PENDING_KEY = "pending_capture"  # a frame that failed a check, waiting for "Save anyway" or "Discard"
UPLOAD_ROUND_KEY = "upload_round"  # bumped after an upload so the uploader empties
DUPLICATE_WINDOW = 20  # a new frame is compared with this many of the newest images of its step
GALLERY_LIMIT = 24
GALLERY_COLUMNS = 6
THUMB_WIDTH = 160


@st.cache_resource(max_entries=512, show_spinner=False)
def _thumbnail_of(path: str, modified: float) -> np.ndarray:
    """Grey 64x64 thumbnail of a saved image (cached by path and modification time)."""
    return thumbnail(load_image(Path(path)))


@st.cache_resource(max_entries=512, show_spinner=False)
def _preview_of(path: str, modified: float) -> np.ndarray:
    rgb = load_image(Path(path))
    height = max(1, round(rgb.shape[0] * THUMB_WIDTH / rgb.shape[1]))
    return cv2.resize(rgb, (THUMB_WIDTH, height), interpolation=cv2.INTER_AREA)


def newest_paths(project, step: CaptureStep) -> list[Path]:
    paths = [path for category in step.categories for path in project.image_paths(category)]
    return sorted(paths, key=lambda p: p.stat().st_mtime, reverse=True)


def previous_thumbnails(project, step: CaptureStep) -> list[np.ndarray]:
    return [_thumbnail_of(str(p), p.stat().st_mtime) for p in newest_paths(project, step)[:DUPLICATE_WINDOW]]


def save(project, step: CaptureStep, rgb: np.ndarray) -> None:
    """Save the frame; if the disk refuses, keep it pending with the reason so nothing is lost."""
    try:
        path = saver(project, step)(rgb)
    except StorageError as exc:
        st.session_state[PENDING_KEY] = (step.key, rgb, [f"Not saved yet: {exc}"])
        return
    category = path.parent.relative_to(project.path / "images").as_posix()
    app_support.flash("success", f"Saved {path.name} ({rgb.shape[1]}x{rgb.shape[0]}) to {category}.")


def unusable_frame(rgb: np.ndarray) -> str | None:
    """Why a camera frame cannot be saved (wrong shape, too small), or None."""
    try:
        frame_to_rgb(rgb)
    except ImageError as exc:
        return str(exc)
    return None


def capture_panel(project, step: CaptureStep) -> None:
    holder = app_support.frame_holder()
    app_support.camera("capture_camera", holder)
    if st.button("Capture", type="primary", key="capture_button", icon=":material/photo_camera:"):
        frame = holder.get()
        problem = None if frame is None else unusable_frame(frame.rgb)
        if frame is None:
            st.warning("No camera picture yet: press START above, allow the camera, then capture again.")
        elif problem:
            st.error(f"This camera picture cannot be used: {problem}. Check the camera's resolution setting.")
        else:
            previous = previous_thumbnails(project, step) if step.check_duplicates else []
            check = check_frame(frame.rgb, previous, check_blur=step.check_blur)
            if check.ok:
                save(project, step, frame.rgb)
                st.rerun()
            st.session_state[PENDING_KEY] = (step.key, frame.rgb, check.warnings)

    pending = st.session_state.get(PENDING_KEY)
    if pending is not None and pending[0] == step.key:
        _, rgb, warnings = pending
        for warning in warnings:
            st.warning(warning)
        st.image(rgb, caption="Captured, not saved yet", width=THUMB_WIDTH * 2)
        keep, drop = st.columns(2)
        if keep.button("Save anyway", key="save_anyway"):
            del st.session_state[PENDING_KEY]
            save(project, step, rgb)
            st.rerun()
        if drop.button("Discard", key="discard_capture"):
            del st.session_state[PENDING_KEY]
            st.rerun()


def upload_panel(project, step: CaptureStep) -> None:
    round_number = st.session_state.setdefault(UPLOAD_ROUND_KEY, 0)
    files = st.file_uploader(f"Or upload {step.title.lower()} images", accept_multiple_files=True,
                             type=[ext.lstrip(".") for ext in SUPPORTED_EXTENSIONS],
                             key=f"upload_{step.key}_{round_number}")
    if files and st.button(f"Add {len(files)} uploaded image(s)", key=f"add_uploads_{step.key}"):
        store = saver(project, step)
        added = 0
        for upload in files:
            try:
                store(decode_image(upload.getvalue(), upload.name))
                added += 1
            except ImageError as exc:
                app_support.flash("warning", f"Not added: {exc}")
            except StorageError as exc:
                # Keep the uploads in the uploader so they can be added again once there is space.
                st.error(f"Added {added} of {len(files)}; the rest are still waiting above. {exc}")
                return
        app_support.flash("success", f"Added {added} of {len(files)} uploaded image(s).")
        st.session_state[UPLOAD_ROUND_KEY] = round_number + 1
        st.rerun()


def gallery(project, step: CaptureStep) -> None:
    for category in step.categories:
        paths = project.image_paths(category)
        st.markdown(f"**{category}** — {len(paths)} image(s)")
        shown = sorted(paths, key=lambda p: p.name, reverse=True)[:GALLERY_LIMIT]
        if len(paths) > len(shown):
            st.caption(f"Showing the newest {len(shown)} of {len(paths)}.")
        columns = st.columns(GALLERY_COLUMNS)
        for index, path in enumerate(shown):
            with columns[index % GALLERY_COLUMNS]:
                st.image(_preview_of(str(path), path.stat().st_mtime), caption=path.name)
                if st.button("Delete", key=f"delete_{category}_{path.name}", icon=":material/delete:"):
                    try:
                        project.remove_image(category, path.name)
                    except DinoadError as exc:
                        app_support.show_error(exc)
                    else:
                        app_support.flash("info", f"Deleted {path.name} from {category}.")
                        st.rerun()


st.title("Capture")
project, status = app_support.require_readable_project("capture")
config = status.config

step_keys = [step.key for step in STEPS]
# Labels stay the same while counts change: the radio keeps its value by its label.
labels = {step.key: f"{number}. {step.title}" for number, step in enumerate(STEPS)}
if st.session_state.get("capture_step") not in step_keys:
    st.session_state["capture_step"] = first_incomplete(status.counts, config).key
step = step_by_key(st.radio("Step", step_keys, format_func=labels.get, horizontal=True, key="capture_step"))

count, target = step.count(status.counts), step.target(config)
st.progress(min(count / target, 1.0), text=f"{step.title}: {count} / {target}")
split = (f" The first {config.shots} (the shots) build the memory bank; further good images test it automatically."
         if step.key == "good" else "")
st.info(step.instructions + split)

camera_column, side_column = st.columns([3, 2])
with camera_column:
    capture_panel(project, step)
with side_column:
    upload_panel(project, step)
gallery(project, step)

if status.counts.get("train/good", 0) > 0:
    st.divider()
    st.write("Enough images for now? Train the project to build its memory bank.")
    app_support.go_to("train", "Go to Train", key="capture_to_train", primary=False)
