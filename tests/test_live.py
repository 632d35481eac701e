import json

import numpy as np
import pytest

from dinoad.cli import main
from dinoad.demo import generate_scene
from dinoad.demo_project import demo_clip_frames
from dinoad.images import save_png
from dinoad.inspection_log import InspectionLog
from dinoad.live import FrameProcessor, LiveState, render_live_overlay
from dinoad.pipeline import Inspector, train
from dinoad.scoring import Verdict
from dinoad.video import write_mp4


@pytest.fixture
def calibrated(make_project, tiny_backbone):
    """A trained project whose threshold and background interval are set from its own scores."""
    project = make_project(train=12, test_good=0, defects=0)
    train(project, backbone=tiny_backbone)
    inspector = Inspector.for_project(project, backbone=tiny_backbone)
    background = [inspector.score(generate_scene("background", i)[0]).score for i in range(5)]
    good = [inspector.score(generate_scene("good", 50 + i)[0]).score for i in range(5)]
    defect = [inspector.score(generate_scene("spot", i)[0]).score for i in range(5)]
    assert max(good) < min(defect), "the synthetic spot must separate even with the tiny random model"
    interval = [min(background) - 0.02, max(background) + 0.02]  # the default background_margin
    assert interval[1] < min(good) or interval[0] > max(defect)
    project.save_config(project.load_config().replace(threshold=(max(good) + min(defect)) / 2,
                                                      raw_ad_score_interval=interval,
                                                      background_method="score_interval"))
    return project, Inspector.for_project(project, backbone=tiny_backbone)


def test_frames_get_ok_nok_and_no_part(calibrated, tmp_path):
    project, inspector = calibrated
    processor = FrameProcessor(inspector, InspectionLog(project.results_dir))
    verdicts = [processor.process(generate_scene(kind, 77)[0])[0].verdict for kind in ("good", "spot", "background")]
    assert verdicts == [Verdict.OK, Verdict.NOK, Verdict.NO_PART]
    history, counts, _, last = processor.state.snapshot()
    assert [entry.verdict for entry in history] == ["OK", "NOK", "NO PART"]
    assert counts == {"OK": 1, "NOK": 1, "NO PART": 1} and last.verdict is Verdict.NO_PART
    assert [row.verdict for row in processor.log.recent()] == ["NO PART", "NOK", "OK"]


def test_overlay_is_annotated_and_no_part_frames_get_no_heatmap(calibrated):
    _, inspector = calibrated
    background = generate_scene("background", 90)[0]
    no_part = inspector.score(background)
    annotated = render_live_overlay(background, no_part, fps=3.0)
    assert annotated.shape == background.shape
    body = slice(annotated.shape[0] // 8, -20)
    assert np.array_equal(annotated[body], background[body])  # only banner and footer drawn
    defect = generate_scene("spot", 3)[0]
    assert not np.array_equal(render_live_overlay(defect, inspector.score(defect), 3.0)[body], defect[body])


def test_live_state_is_bounded_and_measures_fps(calibrated):
    _, inspector = calibrated
    state = LiveState()
    scored = inspector.score(generate_scene("good", 51)[0])
    for _ in range(500):
        state.add(scored)
    history, counts, fps, _ = state.snapshot()
    assert len(history) == 200 and counts == {"OK": 500} and fps > 0


def test_watch_a_folder_and_a_video_prints_a_json_line_per_frame(calibrated, tmp_path, capsys):
    project, _ = calibrated
    folder = tmp_path / "frames"
    for index, kind in enumerate(["good", "spot", "background"]):
        save_png(folder / f"{index}.png", generate_scene(kind, 77)[0])
    (folder / "broken.png").write_text("no image")
    projects = str(project.path.parent)
    assert main(["watch", project.name, "--projects", projects, "--folder", str(folder), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["verdict"] for line in lines] == ["OK", "NOK", "NO PART"]
    assert all(line["latency_ms"] > 0 for line in lines)

    clip = demo_clip_frames()[:12]
    write_mp4(tmp_path / "clip.mp4", clip, 10)
    assert main(["watch", project.name, "--projects", projects, "--video", str(tmp_path / "clip.mp4"),
                 "--max-frames", "10", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 10 and lines[0]["frame"] == "clip.mp4#1"
    assert lines[0]["verdict"] == "NO PART"  # the clip starts on the empty scene
    assert len(InspectionLog(project.results_dir).recent(100)) == 13


def test_watch_reports_a_missing_source(calibrated, tmp_path, capsys):
    project, _ = calibrated
    projects = str(project.path.parent)
    assert main(["watch", project.name, "--projects", projects, "--video", str(tmp_path / "none.mp4")]) == 1
    assert "does not exist" in capsys.readouterr().err
