"""Live: the camera inspected frame by frame (OK / NOK / NO PART with heatmaps), the verdict history,
the inspection log, and feedback to the memory bank without retraining."""

import sqlite3
import time
from datetime import datetime

import pandas as pd
import streamlit as st

import app_support
from dinoad.charts import live_score_chart
from dinoad.errors import DinoadError
from dinoad.feedback import add_defect_feedback, add_good_feedback, feedback_history, undo_feedback
from dinoad.live_session import LiveSession, NokFrame

PANEL_REFRESH = "1s"  # the verdict panel redraws itself this often without touching the video
TREND_FRAMES = 100  # newest frames of this session in the score trend
LOG_ROWS = 15  # newest rows of the inspection log shown
MESSAGE_KEY = "live_feedback_message"  # (kind, text, time) from a feedback button, shown by the panel
MESSAGE_SECONDS = 8.0  # the panel redraws every second: keep a feedback message long enough to read
VERDICT_COLOURS = {"OK": "green", "NOK": "red", "NO PART": "gray", "UNCALIBRATED": "violet"}
COUNTED = ("OK", "NOK", "NO PART")
PAUSE_KEY = "live_paused"
CAMERA_DRAWN_KEY = "live_camera_drawn"  # the camera key this page drew in its latest full run


def say(kind: str, text: str) -> None:
    st.session_state[MESSAGE_KEY] = (kind, text, time.monotonic())


# Feedback buttons act on the NOK frame the operator saw when clicking (bound at drawing time),
# not on whatever frame is newest when the click arrives.
def mark_good(project, session: LiveSession, nok: NokFrame) -> None:
    inspector = session.inspector
    try:
        bank = add_good_feedback(project, inspector.bank, inspector.backbone, inspector.config, nok.rgb)
    except DinoadError as exc:
        say("error", str(exc))
        return
    session.forget_nok(nok.number)
    say("success", f"Added the frame to train/good and its patches to the memory bank (now {bank.info.num_patches:,} "
                   f"patches, version {bank.version}). Undo restores the previous bank.")


def mark_defect(project, session: LiveSession, nok: NokFrame) -> None:
    try:
        path = add_defect_feedback(project, nok.rgb)
    except DinoadError as exc:
        say("error", str(exc))
        return
    session.forget_nok(nok.number)
    say("success", f"Saved the frame as {path.name} in test/defect: the next training calibrates with it.")


def undo(project) -> None:
    try:
        bank = undo_feedback(project)
    except DinoadError as exc:
        say("error", str(exc))
        return
    say("info", f"Undone: the memory bank is back to version {bank.version} ({bank.info.num_patches:,} patches).")


def verdict_block(session: LiveSession) -> None:
    history, counts, fps, last = session.state.snapshot()
    with st.container(key="live_verdict"):
        if session.paused:
            st.markdown("## :orange[PAUSED]")
        elif not history:
            st.markdown("## :gray[waiting for frames]")
        else:
            verdict = history[-1].verdict
            st.markdown(f"## :{VERDICT_COLOURS.get(verdict, 'gray')}[{verdict}]")
            threshold = "not set" if last.threshold is None else f"{last.threshold:.4f}"
            stages = " · ".join(f"{name} {ms:.0f} ms" for name, ms in last.timings_ms.items())
            st.caption(f"score {last.score:.4f} / threshold {threshold} · {last.total_ms:.0f} ms ({stages})")
    with st.container(key="live_counts"):
        columns = st.columns(len(COUNTED) + 1)
        for column, verdict in zip(columns, COUNTED, strict=False):
            column.metric(verdict, counts.get(verdict, 0))
        columns[-1].metric("fps", f"{fps:.1f}")
    for problem in (session.error, session.state.error):
        if problem:
            st.error(problem)


def feedback_block(project, session: LiveSession) -> None:
    st.markdown("**Last NOK frame**")
    nok = session.last_nok()
    picture, buttons = st.columns(2)
    with picture:
        if nok is None:
            st.caption("No NOK frame waiting for feedback.")
        else:
            at = datetime.fromtimestamp(nok.at).strftime("%H:%M:%S")
            st.image(nok.rgb, width="stretch", caption=f"score {nok.score:.4f} at {at}")
    with buttons:
        st.button("This is good", key="feedback_good", disabled=nok is None, on_click=mark_good,
                  args=(project, session, nok), icon=":material/thumb_up:", width="stretch",
                  help="A false alarm: add this frame's patches to the memory bank (no retraining) and keep the "
                       "image in train/good.")
        st.button("This is a defect", key="feedback_defect", disabled=nok is None, on_click=mark_defect,
                  args=(project, session, nok), icon=":material/report:", width="stretch",
                  help="Keep the frame in test/defect so the next training calibrates with it.")
        steps = feedback_history(project)
        st.button("Undo", key="feedback_undo", disabled=not steps, on_click=undo, args=(project,),
                  icon=":material/undo:", width="stretch",
                  help="Restore the memory bank from before the last \"This is good\".")
    message = st.session_state.get(MESSAGE_KEY)
    if message is not None:
        kind, text, said_at = message
        if time.monotonic() - said_at < MESSAGE_SECONDS:
            getattr(st, kind)(text)
        else:
            del st.session_state[MESSAGE_KEY]


def trend_block(session: LiveSession) -> None:
    history = session.state.snapshot()[0][-TREND_FRAMES:]
    threshold = history[-1].threshold if history else session.inspector.config.threshold
    chart = live_score_chart([e.at for e in history], [e.score for e in history], [e.verdict for e in history],
                             threshold)
    st.altair_chart(chart, key="live_trend")


def log_block(project, session: LiveSession) -> None:
    inspection_log = session.inspection_log
    st.markdown("**Inspection log**")  # the log outlives the session: rows from earlier runs and `watch` too
    try:
        rows = inspection_log.recent(LOG_ROWS)
        totals = inspection_log.counts()
    except (sqlite3.Error, OSError) as exc:
        st.warning(f"The inspection log {inspection_log.path} cannot be read ({exc}).")
        return
    if not rows:
        st.caption(f"Nothing logged yet in {inspection_log.path}.")
        return
    st.caption("All time: " + " · ".join(f"{verdict} {count}" for verdict, count in sorted(totals.items())))
    table = pd.DataFrame([{"time": local_time(row.timestamp), "verdict": row.verdict, "score": row.score,
                           "latency ms": row.latency_ms} for row in rows])
    st.dataframe(table, hide_index=True, column_config={
        "score": st.column_config.NumberColumn(format="%.4f"),
        "latency ms": st.column_config.NumberColumn(format="%.0f"),
    })
    st.caption("The CSV download (below the camera) has every row with its threshold, model version and saved "
               "frame.")


def local_time(timestamp: str) -> str:
    """A log timestamp (ISO 8601, UTC) as this machine's local date and time to the millisecond."""
    return datetime.fromisoformat(timestamp).astimezone().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


@st.fragment(run_every=PANEL_REFRESH)
def live_panel(project, session: LiveSession) -> None:
    """Redrawn every second from the session's state; the camera outside it keeps streaming."""
    try:  # after feedback, a retraining or a new threshold, score the next frames with the new model
        session.use_inspector(app_support.warm_inspector_for(project)[0])
    except DinoadError as exc:
        st.warning(f"Still inspecting with the loaded model: {exc}")
    verdict_block(session)
    feedback_block(project, session)
    trend_block(session)
    with st.container(key="live_log"):
        log_block(project, session)


st.title("Live")
project, status = app_support.require_readable_project("live")
app_support.show_next_step(status, needed="trained", key="live_next")
try:  # load and warm up the model before the camera can start: a first frame that stalls stops the stream
    inspector, warm_ms = app_support.warm_inspector_for(project)
except DinoadError as exc:
    app_support.show_error(exc)
    app_support.go_to("train", "Go to Train", key="live_retrain")
    st.stop()
session = app_support.live_session(project, inspector)
if inspector.config.threshold is None:
    st.warning("This project has no threshold yet: frames are scored but not judged. Capture good test images "
               "and defects and retrain, or set a threshold on the Validation page.")

# Streamlit drops a widget's state after a full run that did not draw it: the toggle's state tells
# whether this page was drawn in the previous full run, the stored key which project's camera it drew.
camera_key = f"live_camera_{project.name}"
camera_drawn_last_run = PAUSE_KEY in st.session_state and st.session_state.get(CAMERA_DRAWN_KEY) == camera_key
st.session_state[CAMERA_DRAWN_KEY] = camera_key
camera_column, panel_column = st.columns([3, 2])
with camera_column:
    session.paused = st.toggle("Pause inspection", key=PAUSE_KEY,
                               help="The video keeps running; frames are neither scored nor logged.")
    # Keyed by project: switching project unmounts this stream and starts a fresh one for the new project.
    stream = app_support.live_camera(camera_key, session, camera_drawn_last_run)
    if not stream.state.playing:
        st.caption("Press START and allow the camera. Each frame is scored; the newest one wins when "
                   "scoring is slower than the camera.")
    config = inspector.config
    st.caption(f"Model {config.model_id} at {config.image_size} px · bank version {inspector.model_version} "
               f"({inspector.bank.info.num_patches:,} patches) · warm-up frame {warm_ms:.0f} ms. "
               "Heatmap colours run from 0 to twice the threshold; white outlines mark areas above it.")
    # Outside the panel: a button redrawn every second can lose the click. The CSV is built when clicked.
    st.download_button("Download the inspection log (CSV)", data=session.inspection_log.to_csv,
                       file_name=f"{project.name}-inspections.csv", mime="text/csv", key="live_log_csv",
                       on_click="ignore", icon=":material/download:")
with panel_column:
    live_panel(project, session)
