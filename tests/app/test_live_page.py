"""Live page under AppTest: the fake camera pushes synthetic frames through the page's real video
callback; the verdict panel, the inspection log and the feedback buttons are checked."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import av
import numpy as np
import pytest
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df

from dinoad.bank import load_bank
from dinoad.config import ProjectConfig
from dinoad.demo import DEFECT_KINDS, generate_scene
from dinoad.feedback import feedback_history
from dinoad.inspection_log import LOG_FILE, InspectionLog
from dinoad.pipeline import Inspector, train
from dinoad.project import ProjectStore

PAGE = "pages/live.py"
GOOD, DEFECT, EMPTY = generate_scene("good", 77)[0], generate_scene("spot", 3)[0], generate_scene("background", 30)[0]


@pytest.fixture(scope="module")
def trained_template(tmp_path_factory, tiny_dinov3_dir, tiny_backbone):
    """One project trained once (threshold and background bank calibrated by training itself),
    copied into each test's projects folder by ``trained``."""
    store = ProjectStore(tmp_path_factory.mktemp("live-template"))
    project = store.create("line", ProjectConfig(model_id=str(tiny_dinov3_dir), image_size=128, dtype="float32",
                                                 shots=5))
    for index in range(5):
        project.add_image("background", generate_scene("background", index)[0])
        project.add_image("train/good", generate_scene("good", index)[0])
        project.add_image("test/good", generate_scene("good", 40 + index)[0])
    for index in range(8):
        project.add_image("test/defect", generate_scene(DEFECT_KINDS[index % len(DEFECT_KINDS)], index)[0])
    train(project, backbone=tiny_backbone, export_png=False)
    inspector = Inspector.for_project(project, backbone=tiny_backbone)
    verdicts = [str(inspector.score(frame).verdict) for frame in (GOOD, DEFECT, EMPTY)]
    assert verdicts == ["OK", "NOK", "NO PART"], "the synthetic scenes must separate even with the tiny model"
    return project


@pytest.fixture
def trained(projects_root, trained_template):
    def copy(name: str = "line"):
        shutil.copytree(trained_template.path, projects_root / name)
        return ProjectStore(projects_root).open(name)

    return copy


def metrics_of(at) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def verdict_shown(at) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("## "))


def trend_rows(at) -> list[dict]:
    """Every data row of the trend chart: Streamlit ships the chart's datasets beside the spec, as Arrow."""
    chart = at.get("vega_lite_chart")[0]
    spec = json.loads(chart.proto.spec)
    rows = [row for values in spec.get("datasets", {}).values() for row in values]
    for dataset in chart.proto.datasets:
        rows += convert_arrow_bytes_to_pandas_df(dataset.data.data).to_dict("records")
    return rows


def test_untrained_project_says_to_train_with_a_button(app, projects_root, fake_camera):
    project = ProjectStore(projects_root).create("fresh", ProjectConfig(image_size=128))
    project.add_image("train/good", generate_scene("good", 0)[0])
    at = app(page=PAGE, project="fresh")
    assert "train the project" in at.info[0].value
    assert fake_camera.calls == []  # no stream before there is a model
    at.button(key="live_next").click()
    at.run()
    assert at.title[0].value == "Train"


def test_stream_is_local_only_async_keyed_by_project_and_starts_after_warm_up(app, trained, fake_camera,
                                                                          monkeypatch):
    trained()
    events: list[str] = []
    original_score = Inspector.score

    def recorded_score(self, image, *args, **kwargs):
        events.append("score")
        return original_score(self, image, *args, **kwargs)

    original_camera = fake_camera.__class__.__call__

    def recorded_camera(self, key, **kwargs):
        events.append("stream")
        return original_camera(self, key, **kwargs)

    monkeypatch.setattr(Inspector, "score", recorded_score)
    monkeypatch.setattr(fake_camera.__class__, "__call__", recorded_camera)
    at = app(page=PAGE, project="line")
    call = fake_camera.calls[-1]
    assert call["rtc_configuration"] == {"iceServers": []}
    assert call["async_processing"] is True and call["key"] == "live_camera_line"
    assert events[:2] == ["score", "stream"]  # the warm-up frame was scored before the stream existed
    assert verdict_shown(at) == "## :gray[waiting for frames]"


def test_frames_get_verdicts_history_trend_and_log(app, trained, fake_camera):
    project = trained()
    fake_camera.frames = [GOOD, DEFECT, EMPTY]
    at = app(page=PAGE, project="line")
    assert not at.exception and not at.error
    shown = metrics_of(at)
    assert (shown["OK"], shown["NOK"], shown["NO PART"]) == ("1", "1", "1")
    assert verdict_shown(at) == "## :gray[NO PART]"  # the newest frame

    rows = trend_rows(at)
    scored = [row for row in rows if "verdict" in row]
    assert [row["verdict"] for row in scored] == ["OK", "NOK", "NO PART"]
    threshold = project.load_config().threshold
    assert [row["threshold"] for row in rows if "label" in row] == [pytest.approx(threshold)]

    logged = InspectionLog(project.results_dir).recent()
    assert [row.verdict for row in logged] == ["NO PART", "NOK", "OK"]
    table = at.dataframe[0].value
    assert table["verdict"].tolist() == ["NO PART", "NOK", "OK"]
    assert table["score"].tolist() == pytest.approx([row.score for row in logged])
    assert "All time: NO PART 1 · NOK 1 · OK 1" in [c.value for c in at.caption]
    assert at.image, "the last NOK frame is shown for feedback"


def test_callback_returns_the_annotated_frame(app, trained, fake_camera):
    trained()
    at = app(page=PAGE, project="line")
    callback = fake_camera.calls[-1]["video_frame_callback"]
    returned = callback(av.VideoFrame.from_ndarray(DEFECT, format="rgb24")).to_ndarray(format="rgb24")
    assert returned.shape == DEFECT.shape
    assert not np.array_equal(returned, DEFECT)  # heatmap, contour and banner drawn
    banner = returned[:10].reshape(-1, 3).mean(axis=0)
    assert banner[0] > 150 and banner[1] < 80  # the NOK banner is red
    assert at.session_state["live_session"].state.snapshot()[1] == {"NOK": 1}


def test_pause_passes_frames_through_unscored(app, trained, fake_camera):
    project = trained()
    at = app(page=PAGE, project="line")
    at.toggle(key="live_paused").set_value(True)
    fake_camera.frames = [DEFECT]
    at.run()
    assert verdict_shown(at) == "## :orange[PAUSED]"
    assert metrics_of(at)["NOK"] == "0" and InspectionLog(project.results_dir).recent() == []
    callback = fake_camera.calls[-1]["video_frame_callback"]
    frame = callback(av.VideoFrame.from_ndarray(DEFECT, format="rgb24")).to_ndarray(format="rgb24")
    assert np.array_equal(frame, DEFECT)
    at.toggle(key="live_paused").set_value(False)
    at.run()
    assert metrics_of(at)["NOK"] == "1"


def test_good_feedback_replaces_the_model_and_undo_restores_it(app, trained, fake_camera):
    project = trained()
    original = load_bank(project.results_dir)
    fake_camera.frames = [DEFECT]
    at = app(page=PAGE, project="line")
    assert at.button(key="feedback_undo").disabled
    fake_camera.frames = []  # no new frames while the operator decides
    at.button(key="feedback_good").click()
    at.run()
    assert not at.exception
    assert any("Added the frame to train/good" in s.value for s in at.success)
    updated = load_bank(project.results_dir)
    assert updated.version != original.version and len(feedback_history(project)) == 1
    assert project.counts()["train/good"] == 6
    session = at.session_state["live_session"]
    assert session.inspector.model_version == updated.version  # the cached inspector was replaced
    assert session.last_nok() is None and at.button(key="feedback_good").disabled

    fake_camera.frames = [DEFECT, EMPTY]  # the same part again: now it is in the bank
    at.run()
    assert metrics_of(at)["OK"] == "1" and metrics_of(at)["NO PART"] == "1"  # no-part detection still on

    fake_camera.frames = []
    at.button(key="feedback_undo").click()
    at.run()
    assert any("Undone" in i.value for i in at.info)
    assert load_bank(project.results_dir).version == original.version
    assert project.counts()["train/good"] == 5 and feedback_history(project) == []
    fake_camera.frames = [DEFECT]
    at.run()
    assert at.session_state["live_session"].inspector.model_version == original.version
    assert metrics_of(at)["NOK"] == "2"


def test_defect_feedback_keeps_the_frame_for_calibration(app, trained, fake_camera):
    project = trained()
    fake_camera.frames = [DEFECT]
    at = app(page=PAGE, project="line")
    fake_camera.frames = []
    at.button(key="feedback_defect").click()
    at.run()
    assert project.counts()["test/defect"] == 9
    assert any("in test/defect" in s.value for s in at.success)
    assert load_bank(project.results_dir).version == at.session_state["live_session"].inspector.model_version


def test_switching_project_starts_a_fresh_stream_and_history(app, trained, fake_camera):
    trained("line")
    trained("other")
    fake_camera.frames = [DEFECT]
    at = app(page=PAGE, project="line")
    first = at.session_state["live_session"]
    fake_camera.frames = []
    at.selectbox(key="sidebar_project").set_value("other")
    at.run()
    session = at.session_state["live_session"]
    assert session is not first and session.project_name == "other"
    assert first.paused  # a closing stream of the old project scores nothing more
    assert fake_camera.calls[-1]["key"] == "live_camera_other"
    assert metrics_of(at)["NOK"] == "0"


def test_log_write_failure_is_shown_and_inspection_goes_on(app, trained, fake_camera):
    project = trained()
    (project.results_dir / LOG_FILE).mkdir()  # the database path is taken: every write fails
    fake_camera.frames = [GOOD, DEFECT]
    at = app(page=PAGE, project="line")
    assert any("inspection log not written" in e.value for e in at.error)
    assert metrics_of(at)["OK"] == "1" and metrics_of(at)["NOK"] == "1"


def test_project_without_threshold_is_scored_but_not_judged(app, trained, fake_camera):
    project = trained()
    project.save_config(project.load_config().replace(threshold=None, threshold_method="manual",
                                                      manual_threshold=None))
    fake_camera.frames = [GOOD]
    at = app(page=PAGE, project="line")
    assert any("no threshold yet" in w.value for w in at.warning)
    assert verdict_shown(at) == "## :violet[UNCALIBRATED]"


def test_stream_survives_reruns_but_a_return_to_the_page_lets_the_library_reset_it(app, trained, fake_camera):
    """streamlit-webrtc marks when its component was last drawn and resets a stream it thinks missed a
    run; the page clears that mark only when it drew the same camera in the previous full run."""
    trained()
    at = app(page=PAGE, project="line")
    at.session_state["live_camera_line"] = SimpleNamespace(_last_rendered_run_count=7)
    at.run()  # the page drew this camera last run: the library's check is skipped
    assert at.session_state["live_camera_line"]._last_rendered_run_count is None

    at.session_state["live_camera_line"]._last_rendered_run_count = 7
    at.switch_page("pages/projects.py").run()
    at.switch_page(PAGE).run()  # back from another page: the check stays in force
    assert at.session_state["live_camera_line"]._last_rendered_run_count == 7
