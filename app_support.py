"""Streamlit helpers shared by the pages: current project, cached model and inspector, navigation.

Only this module, ``streamlit_app.py`` and ``pages/`` import streamlit; everything they show comes
from ``dinoad``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from dinoad.auth import verify_password
from dinoad.backbone import Backbone, load_backbone
from dinoad.config import ProjectConfig
from dinoad.errors import DinoadError
from dinoad.ice import rtc_configuration
from dinoad.inspection_log import InspectionLog
from dinoad.latest_frame import LatestFrame
from dinoad.live_session import LiveSession
from dinoad.pipeline import Inspector
from dinoad.project import Project, ProjectStore
from dinoad.project_status import ProjectStatus, project_status, read_model_info

PROJECT_KEY = "project"  # session_state key and URL query parameter of the current project
APP_DIR = Path(__file__).resolve().parent
PAGES = {
    "projects": "pages/projects.py",
    "capture": "pages/capture.py",
    "train": "pages/train.py",
    "validation": "pages/validation.py",
    "live": "pages/live.py",
}
PAGE_TITLES = {"projects": "Projects", "capture": "Capture", "train": "Train", "validation": "Validation",
               "live": "Live"}
# A few models and trained projects stay in memory; more would only hold RAM for idle tabs.
MAX_CACHED_BACKBONES = 2
MAX_CACHED_INSPECTORS = 4


def store() -> ProjectStore:
    """The projects folder: ``$DINOAD_PROJECTS`` or ``./projects``."""
    return ProjectStore()


# --- current project ---------------------------------------------------------------------------

def sync_project_from_url() -> None:
    """Adopt ``?project=NAME`` from the URL (reloads, shared links); otherwise write the session's
    project into the URL. A name that is not a project is dropped with a warning."""
    names = store().names()
    wanted = st.query_params.get(PROJECT_KEY)
    if wanted is not None:
        if wanted in names:
            st.session_state[PROJECT_KEY] = wanted
        else:
            st.warning(f"There is no project named {wanted!r}; choose one in the sidebar.")
            del st.query_params[PROJECT_KEY]
    current = st.session_state.get(PROJECT_KEY)
    if current is not None and current not in names:
        st.session_state.pop(PROJECT_KEY, None)  # deleted or renamed elsewhere
        current = None
    if current is not None and st.query_params.get(PROJECT_KEY) != current:
        st.query_params[PROJECT_KEY] = current


def set_current_project(name: str | None) -> None:
    if name is None:
        st.session_state.pop(PROJECT_KEY, None)
        st.query_params.pop(PROJECT_KEY, None)
    else:
        st.session_state[PROJECT_KEY] = name
        st.query_params[PROJECT_KEY] = name


def _on_project_picked() -> None:
    set_current_project(st.session_state["sidebar_project"])


def sidebar_project_picker() -> None:
    """The project chooser in the sidebar, bound to the session and the URL."""
    names = store().names()
    current = st.session_state.get(PROJECT_KEY)
    with st.sidebar:
        if not names:
            st.caption("No projects yet: create one on the Projects page.")
            return
        st.session_state["sidebar_project"] = current
        # The widget's state is set from the session each run, so page switches and URL changes show.
        st.selectbox("Project", names, key="sidebar_project", placeholder="Choose a project",
                     on_change=_on_project_picked)


def current_project() -> Project | None:
    name = st.session_state.get(PROJECT_KEY)
    if name is None:
        return None
    try:
        return store().open(name)
    except DinoadError:
        return None


def go_to(page: str, label: str, key: str, primary: bool = True) -> None:
    """A button that switches to another page, keeping the current project in the URL."""
    if st.button(label, key=key, type="primary" if primary else "secondary"):
        name = st.session_state.get(PROJECT_KEY)
        st.switch_page(PAGES[page], query_params={PROJECT_KEY: name} if name else None)


def require_project() -> Project:
    """The current project, or stop the page with what to do and a button to the Projects page."""
    project = current_project()
    if project is None:
        st.info("No project is selected. Create a project or choose one in the sidebar.")
        go_to("projects", "Go to Projects", key="need_project")
        st.stop()
    return project


def require_readable_project(page: str) -> tuple[Project, ProjectStatus]:
    """The current project and its status; stops the page with the reason and a button to Projects
    when there is no project or its settings cannot be read."""
    project = require_project()
    status = status_of(project)
    if status.config is None:
        st.error(status.error or "the project's settings cannot be read")
        go_to("projects", "Go to Projects", key=f"{page}_fix_config")
        st.stop()
    return project, status


def show_next_step(status: ProjectStatus, needed: str, key: str) -> None:
    """When the project lacks what this page needs (``needed``: "images" or "trained"), say what
    to do next with a button to that page, and stop the page."""
    step = status.next_step()
    if step is None:
        return
    message, page = step
    if needed == "images" and page not in ("capture", "projects"):
        return
    st.info(f"Next step: {message}.")
    go_to(page, f"Go to {PAGE_TITLES[page]}", key=key)
    st.stop()


def show_error(exc: BaseException) -> None:
    """Engine errors carry a message for the user; anything else is a bug, shown with its trace."""
    if isinstance(exc, DinoadError):
        st.error(str(exc))
    else:
        st.exception(exc)


# --- heavy objects -------------------------------------------------------------------------------

@st.cache_resource(max_entries=MAX_CACHED_BACKBONES, show_spinner="Loading the model...")
def cached_backbone(model_id: str, dtype: str) -> Backbone:
    """One backbone per (model id, dtype), shared by all sessions; its own lock serialises inference."""
    return load_backbone(model_id, dtype)


def config_signature(config: ProjectConfig) -> str:
    return json.dumps(config.to_dict(), sort_keys=True)


@st.cache_resource(max_entries=MAX_CACHED_INSPECTORS, show_spinner="Loading the memory bank...")
def _cached_inspector(project_path: str, bank_version: str, config_json: str) -> Inspector:
    """Keyed by the bank's content version: retraining writes a new version, so a stale bank is
    never served; the config is part of the key because the threshold lives there."""
    project = Project(Path(project_path).parent, Path(project_path).name)
    config = ProjectConfig.from_dict(json.loads(config_json))
    return Inspector.for_project(project, cached_backbone(config.model_id, config.dtype))


def inspector_for(project: Project) -> Inspector:
    """The trained project ready to score (NotTrainedError / RetrainRequired otherwise)."""
    info = read_model_info(project) or {}
    config = project.load_config()
    return _cached_inspector(str(project.path), str(info.get("model_version", "")), config_signature(config))


def status_of(project: Project) -> ProjectStatus:
    return project_status(project)


def secrets() -> dict[str, Any]:
    """``.streamlit/secrets.toml`` as a dict; empty when there is no secrets file."""
    try:
        return st.secrets.to_dict() if st.secrets else {}
    except (FileNotFoundError, st.errors.StreamlitSecretNotFoundError):
        return {}


def ice_configuration() -> dict[str, Any]:
    """ICE servers for streamlit-webrtc: none unless set in $DINOAD_ICE_SERVERS or secrets."""
    return rtc_configuration(secrets() or None)


# --- optional login ------------------------------------------------------------------------------

LOGIN_SECRET = "login"  # [login] password_hash = "pbkdf2_sha256$..." (python -m dinoad hash-password)
OIDC_SECRET = "auth"  # Streamlit's own st.login settings (an OpenID Connect provider)
LOGGED_IN_KEY = "logged_in"


def require_login() -> None:
    """Stop this run until the user has logged in, when secrets configure a login; else do nothing."""
    configured = secrets()
    password_hash = configured.get(LOGIN_SECRET, {}).get("password_hash")
    if password_hash:
        if st.session_state.get(LOGGED_IN_KEY):
            return
        st.title("dinoad")
        with st.form("login_form"):
            password = st.text_input("Password", type="password", key="login_password")
            if st.form_submit_button("Log in", type="primary"):
                if verify_password(password, password_hash):
                    st.session_state[LOGGED_IN_KEY] = True
                    st.rerun()
                st.error("Wrong password.")
        st.stop()
    if OIDC_SECRET in configured and not st.user.is_logged_in:
        st.title("dinoad")
        st.button("Log in", type="primary", on_click=st.login, key="login_oidc")
        st.stop()


# --- messages that survive a rerun ---------------------------------------------------------------

FLASH_KEY = "flash_messages"


def flash(kind: str, message: str) -> None:
    """Show ``message`` (kind: success, info, warning, error) at the top of the next run."""
    st.session_state.setdefault(FLASH_KEY, []).append((kind, message))


def show_flash() -> None:
    """Messages go into one container that exists on every run, so the elements after it keep their
    places: a component that moves (the camera) would be remounted and lose its stream."""
    slot = st.container()
    for kind, message in st.session_state.pop(FLASH_KEY, []):
        getattr(slot, kind)(message)


# --- camera -------------------------------------------------------------------------------------

FRAME_HOLDER_KEY = "camera_frames"
# Ask the browser for the camera's best resolution; captures are saved at whatever arrives.
CAMERA_CONSTRAINTS = {"video": {"width": {"ideal": 1920}, "height": {"ideal": 1080}}, "audio": False}


def frame_holder(key: str = FRAME_HOLDER_KEY) -> LatestFrame:
    """This session's newest-frame holder (per session: one user's camera is not another's)."""
    if key not in st.session_state:
        st.session_state[key] = LatestFrame()
    return st.session_state[key]


def camera(key: str, holder: LatestFrame) -> Any:
    """A streamlit-webrtc camera whose frames land in ``holder`` as RGB arrays at native resolution.

    No ICE servers unless configured (see dinoad.ice): the app makes no outbound connection.
    """

    def keep_frame(frame):  # runs in a WebRTC worker thread: no st.* calls here
        holder.put(frame.to_ndarray(format="rgb24"))
        return frame

    return _streamer(key, CAMERA_CONSTRAINTS, keep_frame)


def _streamer(key: str, constraints: dict[str, Any], callback: Any) -> Any:
    """streamlit-webrtc with this app's settings: local-only ICE (unless configured), newest frame only."""
    import streamlit_webrtc  # imported here: aiortc is heavy and only camera pages need it

    return streamlit_webrtc.webrtc_streamer(
        key=key,
        mode=streamlit_webrtc.WebRtcMode.SENDRECV,
        rtc_configuration=ice_configuration(),
        media_stream_constraints=constraints,
        video_frame_callback=callback,
        async_processing=True,
    )


MAX_CACHED_MAPS = 256  # anomaly maps for the Validation gallery (a 448 px map is 0.8 MB)


@st.cache_resource(max_entries=MAX_CACHED_MAPS, show_spinner=False)
def _cached_anomaly_map(bank_version: str, sigma: float, image_size: int, path: str, modified: float,
                        _inspector: Inspector) -> np.ndarray:
    return _inspector.score_file(Path(path)).anomaly_map


def anomaly_map_of(project: Project, inspector: Inspector, path: Path) -> np.ndarray:
    """The image's anomaly map (image_size square, raw score units), cached per bank version and file."""
    config = inspector.config
    return _cached_anomaly_map(inspector.model_version, config.sigma, config.image_size, str(path),
                               path.stat().st_mtime, inspector)


# --- live inspection ----------------------------------------------------------------------------

LIVE_SESSION_KEY = "live_session"
# Inspection runs at the project's resolution (at most 1024 px): 720p is plenty, and every frame
# sent back to the browser is encoded again on the CPU.
LIVE_CAMERA_CONSTRAINTS = {"video": {"width": {"ideal": 1280}, "height": {"ideal": 720}}, "audio": False}


@st.cache_resource(max_entries=MAX_CACHED_INSPECTORS, show_spinner="Warming up the model...")
def _warm_up(project_path: str, bank_version: str, config_json: str, _inspector: Inspector) -> float:
    """Score one blank frame so the first camera frame does not pay the one-off start-up costs
    (a video callback that stalls too long stops the stream). Returns the warm-up time in ms."""
    size = _inspector.config.image_size
    start = time.perf_counter()
    _inspector.score(np.zeros((size, size, 3), dtype=np.uint8))
    return (time.perf_counter() - start) * 1000.0


def warm_inspector_for(project: Project) -> tuple[Inspector, float]:
    """``inspector_for`` after one warm-up frame (done once per inspector); (inspector, warm-up ms)."""
    inspector = inspector_for(project)
    warm_ms = _warm_up(str(project.path), inspector.model_version, config_signature(inspector.config), inspector)
    return inspector, warm_ms


def live_session(project: Project, inspector: Inspector) -> LiveSession:
    """This browser session's live inspection for ``project`` (a new one when the project changed),
    scoring with ``inspector`` from the next frame on."""
    session = st.session_state.get(LIVE_SESSION_KEY)
    if not isinstance(session, LiveSession) or session.project_name != project.name:
        if isinstance(session, LiveSession):
            session.paused = True  # a stream of the previous project that is still closing scores nothing
        session = LiveSession(project.name, inspector, InspectionLog(project.results_dir))
        st.session_state[LIVE_SESSION_KEY] = session
    session.use_inspector(inspector)
    return session


def _keep_stream_across_reruns(key: str) -> None:
    """Stop streamlit-webrtc from ending a running stream on an ordinary rerun.

    streamlit-webrtc (0.79) resets a stream whose component "missed" a script run, judged by the
    session's run counter. Streamlit increments that counter only when it *sends* a run's finished
    message, so two full runs close together (START's signalling reruns, the pause toggle) can read
    the same count, and the next run then looks like one missed run: the library resets the context
    and the live stream ends (seen in the browser tests, about one run in three). Call this only when
    the component was rendered in the previous full run: clearing the library's mark skips its check
    then, and leaves it in force after a visit to another page, where it is needed."""
    context = st.session_state.get(key)
    if context is not None and hasattr(context, "_last_rendered_run_count"):
        context._last_rendered_run_count = None


def live_camera(key: str, session: LiveSession, rendered_last_run: bool = False) -> Any:
    """A streamlit-webrtc camera whose frames are inspected by ``session`` and sent back annotated.

    ``rendered_last_run``: the page drew this camera in the previous full run (see
    ``_keep_stream_across_reruns``).

    ``async_processing``: a slow frame makes the library drop older ones, so only the newest is scored.
    No ICE servers unless configured (see dinoad.ice): the app makes no outbound connection.
    """
    import av

    def inspect_frame(frame):  # runs in a WebRTC worker thread: no st.* calls here
        annotated = session.handle(frame.to_ndarray(format="rgb24"))
        return av.VideoFrame.from_ndarray(annotated, format="rgb24")

    if rendered_last_run:
        _keep_stream_across_reruns(key)
    return _streamer(key, LIVE_CAMERA_CONSTRAINTS, inspect_frame)
