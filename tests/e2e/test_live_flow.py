"""Live inspection in Chromium: a fake camera plays good parts, defects and the empty scene; the Live
page shows OK, NOK and NO PART, the video comes back annotated, feedback and pause work live.

The project is trained here through the engine (the Capture/Train path has its own browser test);
the server and Chromium share the test's private network namespace (see conftest.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from live_support import banners_seen, live_counts, wait_for_every_verdict
from playwright.sync_api import expect
from test_dashboard_flow import chromium, keyed, open_page, start_camera

from dinoad.config import ProjectConfig
from dinoad.demo import DEFECT_KINDS, generate_scene
from dinoad.feedback import feedback_history
from dinoad.inspection_log import InspectionLog
from dinoad.pipeline import Inspector, train
from dinoad.project import ProjectStore
from dinoad.video import write_y4m

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PROJECT = "line"
OTHER_PROJECT = "line-b"
FRAME_RATE = 10
FRAMES_PER_SCENE = 15  # each scene stays 1.5 s in front of the camera (the clip loops)
# Scenes far from the threshold with the tiny random model: video compression moves scores a little.
SCENES = [("good", 75), ("spot", 71), ("background", 30), ("good", 60), ("crack", 62), ("background", 31)]
LIVE_TIMEOUT_MS = 90_000
PAUSE_CHECK_MS = 2500


def trained_project(store: ProjectStore, model_dir, backbone):
    project = store.create(PROJECT, ProjectConfig(model_id=str(model_dir), image_size=128, dtype="float32", shots=5))
    for index in range(5):
        project.add_image("background", generate_scene("background", index)[0])
        project.add_image("train/good", generate_scene("good", index)[0])
        project.add_image("test/good", generate_scene("good", 40 + index)[0])
    for index in range(8):
        project.add_image("test/defect", generate_scene(DEFECT_KINDS[index % len(DEFECT_KINDS)], index)[0])
    train(project, backbone=backbone, export_png=False)
    inspector = Inspector.for_project(project, backbone=backbone)
    verdicts = {str(inspector.score(generate_scene(kind, index)[0]).verdict) for kind, index in SCENES}
    assert verdicts == {"OK", "NOK", "NO PART"}, "the camera's scenes must give every verdict"
    return project


def total(counts: dict[str, float]) -> int:
    return int(sum(value for label, value in counts.items() if label != "fps"))


def test_fake_camera_gets_live_verdicts_heatmaps_feedback_and_pause(
    streamlit_server, namespace, playwright_instance, artifacts, tiny_dinov3_dir, tiny_backbone, tmp_path
):
    project = trained_project(ProjectStore(streamlit_server.projects), tiny_dinov3_dir, tiny_backbone)
    shutil.copytree(project.path, streamlit_server.projects / OTHER_PROJECT)
    camera_file = tmp_path / "line.y4m"
    write_y4m(camera_file, [generate_scene(kind, index)[0] for kind, index in SCENES
                            for _ in range(FRAMES_PER_SCENE)], FRAME_RATE)

    with chromium(playwright_instance, namespace, artifacts, "live", camera_file) as page:
        # The app's first run must start from the entry script: until st.navigation has run once, Streamlit
        # serves a deep link from the pages/ folder without the app's shell (a fresh server's first visitor).
        open_page(page, streamlit_server.url)
        open_page(page, f"{streamlit_server.url}/live?project={PROJECT}")
        page.get_by_text("waiting for frames").wait_for()
        start_camera(page)

        # Every verdict reaches the panel, and the video comes back with the verdict banners drawn in.
        counts = wait_for_every_verdict(page, LIVE_TIMEOUT_MS)
        print(f"live counts: {counts}")
        assert banners_seen(page, {"OK", "NOK"}) == {"OK", "NOK"}
        logged = {row.verdict for row in InspectionLog(project.results_dir).recent(limit=-1)}
        assert logged >= {"OK", "NOK", "NO PART"}
        page.locator(".st-key-live_log").get_by_text("All time:").wait_for()
        page.screenshot(path=str(artifacts / "live-verdicts.png"))

        # "This is good" on the last NOK frame grows the bank; Undo restores it.
        good = keyed(page, "feedback_good")
        expect(good).to_be_enabled(timeout=LIVE_TIMEOUT_MS)
        good.click()
        page.get_by_text("Added the frame to train/good").wait_for()
        assert len(feedback_history(project)) == 1 and project.counts()["train/good"] == 6
        keyed(page, "feedback_undo").click()
        page.get_by_text("Undone: the memory bank is back").wait_for()
        assert feedback_history(project) == [] and project.counts()["train/good"] == 5

        # Pause stops scoring but not the video; resuming scores again without pressing START.
        page.locator(".st-key-live_paused label").click()
        page.get_by_text("PAUSED", exact=True).wait_for()
        page.wait_for_timeout(500)  # a frame already being scored may still land
        paused_at = total(live_counts(page))
        page.wait_for_timeout(PAUSE_CHECK_MS)
        assert total(live_counts(page)) == paused_at
        page.locator(".st-key-live_paused label").click()
        page.wait_for_function(
            "n => [...document.querySelectorAll(\".st-key-live_counts [data-testid='stMetricValue']\")]"
            ".slice(0, 3).reduce((s, e) => s + Number(e.innerText), 0) > n",
            arg=paused_at, timeout=LIVE_TIMEOUT_MS)

        # CSV export of the inspection log, built when the button is clicked.
        with page.expect_download() as download:
            keyed(page, "live_log_csv").click()
        lines = Path(download.value.path()).read_text().splitlines()
        assert lines[0].startswith("id,timestamp,verdict,score,threshold,model_version")
        assert len(lines) - 1 >= len(logged)

        # Leaving the page ends the stream; back on Live, START streams again.
        page.get_by_role("link", name="Validation").click()
        page.get_by_role("heading", name="Validation").wait_for()
        page.get_by_role("link", name="Live").click()
        page.get_by_role("heading", name="Live").wait_for()
        before_return = total(live_counts(page))
        start_camera(page)
        page.wait_for_function(
            "n => [...document.querySelectorAll(\".st-key-live_counts [data-testid='stMetricValue']\")]"
            ".slice(0, 3).reduce((s, e) => s + Number(e.innerText), 0) > n",
            arg=before_return, timeout=LIVE_TIMEOUT_MS)

        # Switching project ends this stream: the new project's camera waits for START, the old log stops.
        page.locator(".st-key-sidebar_project").click()
        page.get_by_role("option", name=OTHER_PROJECT, exact=True).click()
        page.get_by_text("waiting for frames").wait_for()
        component = page.frame_locator("iframe[title*='streamlit_webrtc']").first
        component.get_by_role("button", name="START").wait_for()
        page.wait_for_timeout(1000)  # a frame in flight when the switch happened may still be logged
        rows_after_switch = len(InspectionLog(project.results_dir).recent(limit=-1))
        page.wait_for_timeout(PAUSE_CHECK_MS)
        assert len(InspectionLog(project.results_dir).recent(limit=-1)) == rows_after_switch
        other = ProjectStore(streamlit_server.projects).open(OTHER_PROJECT)
        assert InspectionLog(other.results_dir).recent() == []
