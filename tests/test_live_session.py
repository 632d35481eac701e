"""The Live page's holder (video thread <-> page) and its score trend chart, without Streamlit."""

import numpy as np
import pytest

from dinoad import charts
from dinoad.demo import generate_scene
from dinoad.live_session import LiveSession
from dinoad.pipeline import Inspector, train


@pytest.fixture
def inspector(make_project, tiny_backbone):
    project = make_project(train=4, test_good=3, defects=4)
    train(project, backbone=tiny_backbone, export_png=False)
    return Inspector.for_project(project, backbone=tiny_backbone)


def test_nok_frames_are_kept_for_feedback_and_forgotten_by_number(inspector):
    session = LiveSession("part", inspector)
    good, defect = generate_scene("good", 60)[0], generate_scene("spot", 2)[0]
    annotated = session.handle(defect)
    assert annotated.shape == defect.shape and not np.array_equal(annotated, defect)
    first = session.last_nok()
    assert first is not None and np.array_equal(first.rgb, defect) and first.model_version == inspector.model_version
    session.handle(good)
    assert session.last_nok() is first  # an OK frame leaves the NOK waiting
    session.handle(defect)
    newer = session.last_nok()
    assert newer.number > first.number
    session.forget_nok(first.number)  # feedback on an older frame keeps the newer one
    assert session.last_nok() is newer
    session.forget_nok(newer.number)
    assert session.last_nok() is None
    assert session.state.snapshot()[1] == {"NOK": 2, "OK": 1}


def test_paused_frames_pass_unscored_and_a_failing_frame_does_not_raise(inspector):
    session = LiveSession("part", inspector)
    frame = generate_scene("spot", 2)[0]
    session.paused = True
    assert session.handle(frame) is frame and session.state.snapshot()[0] == []
    session.paused = False
    broken = np.zeros((4, 4), dtype=np.uint8)  # not an RGB frame
    assert session.handle(broken) is broken
    assert session.error and "not scored" in session.error
    session.handle(frame)
    assert session.error is None


def test_a_new_inspector_keeps_the_history(inspector, tiny_backbone):
    session = LiveSession("part", inspector)
    session.handle(generate_scene("good", 61)[0])
    assert session.use_inspector(inspector) is False
    replacement = Inspector(tiny_backbone, inspector.bank, inspector.config)
    assert session.use_inspector(replacement) is True and session.inspector is replacement
    session.handle(generate_scene("good", 62)[0])
    assert len(session.state.snapshot()[0]) == 2


def test_live_trend_chart_carries_every_frame_and_the_threshold():
    spec = charts.live_score_chart([1.0e9, 1.0e9 + 1, 1.0e9 + 2], [0.1, 0.5, 0.02], ["OK", "NOK", "NO PART"],
                                   0.3).to_dict()
    rows = [row for values in spec["datasets"].values() for row in values]
    assert [(row["score"], row["verdict"]) for row in rows if "verdict" in row] == [
        (0.1, "OK"), (0.5, "NOK"), (0.02, "NO PART")]
    assert [row["threshold"] for row in rows if "label" in row] == [0.3]
    unjudged = charts.live_score_chart([1.0e9], [0.1], ["UNCALIBRATED"], None).to_dict()
    assert not [row for values in unjudged["datasets"].values() for row in values if "label" in row]
    assert "no frames inspected yet" in str(charts.live_score_chart([], [], []).to_dict())
    with pytest.raises(ValueError, match="a time, a score and a verdict"):
        charts.live_score_chart([1.0], [0.1, 0.2], ["OK"])
