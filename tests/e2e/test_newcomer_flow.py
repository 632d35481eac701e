"""The newcomer path in Chromium: empty projects folder -> "Create demo project" -> Train -> Validation
charts -> Live verdicts, with the demo project's own clip (demo/clip.y4m) as the fake camera.

The run regenerates the README's screenshots in docs/screenshots/ (and copies them to test-artifacts/).
"""

from __future__ import annotations

import re

import pytest
from live_support import DOC_VIEWPORT, banners_seen, document, wait_for_every_verdict
from test_dashboard_flow import TRAIN_TIMEOUT_MS, VALIDATION_CHARTS, chromium, keyed, open_page, start_camera

from dinoad.demo_project import DEMO_COUNTS, DEMO_SHOTS
from dinoad.inspection_log import InspectionLog
from dinoad.project import ProjectStore

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DEMO = "demo"
LIVE_TIMEOUT_MS = 120_000


def test_newcomer_goes_from_empty_folder_to_live_verdicts_with_the_demo(
    streamlit_server, namespace, playwright_instance, artifacts, screenshots, tiny_dinov3_dir
):
    url = streamlit_server.url
    store = ProjectStore(streamlit_server.projects)
    assert store.names() == []

    with chromium(playwright_instance, namespace, artifacts, "newcomer") as page:
        page.set_viewport_size(DOC_VIEWPORT)
        # 1. Projects: the empty folder offers the demo; create it with the tiny model at 128 px.
        open_page(page, url)
        page.get_by_text("No projects yet in").wait_for()
        document(page, "projects", screenshots, artifacts)  # what a newcomer sees first
        page.locator(".st-key-demo_model_id input").fill(str(tiny_dinov3_dir))
        page.locator(".st-key-demo_image_size input").fill("128")
        page.get_by_role("button", name="Create demo project").click()
        page.get_by_text(f"Created demo project '{DEMO}'").wait_for()
        project = store.open(DEMO)
        config = project.load_config()
        assert (config.model_id, config.image_size) == (str(tiny_dinov3_dir), 128)
        assert sum(project.counts().values()) == sum(DEMO_COUNTS.values())
        clip = project.path / "demo" / "clip.y4m"
        assert clip.is_file()

        # 2. Train, from the next-step button the Projects page offers.
        keyed(page, "projects_next").click()
        page.get_by_role("heading", name="Train").wait_for()
        keyed(page, "train_button").click()
        trained = page.get_by_text(re.compile(rf"^Trained on {DEMO_SHOTS} good image"))
        trained.wait_for(timeout=TRAIN_TIMEOUT_MS)
        assert project.is_trained and project.load_config().threshold is not None
        trained.scroll_into_view_if_needed()
        document(page, "train", screenshots, artifacts)

        # 3. Validation: every chart is drawn.
        keyed(page, "train_to_validation").click()
        page.get_by_role("heading", name="Validation").wait_for()
        page.wait_for_function(f"() => document.querySelectorAll(\"[data-testid='stVegaLiteChart']\").length"
                               f" === {VALIDATION_CHARTS}")
        page.get_by_role("heading", name="Charts").scroll_into_view_if_needed()
        document(page, "validation", screenshots, artifacts)

    # 4. Live, with the demo clip as the camera: parts pass by, every verdict shows up.
    with chromium(playwright_instance, namespace, artifacts, "newcomer-live", clip) as page:
        page.set_viewport_size(DOC_VIEWPORT)
        open_page(page, f"{url}/live?project={DEMO}")
        start_camera(page)
        counts = wait_for_every_verdict(page, LIVE_TIMEOUT_MS)
        print(f"demo clip live counts: {counts}")
        logged = {row.verdict for row in InspectionLog(project.results_dir).recent(limit=-1)}
        assert logged >= {"OK", "NOK", "NO PART"}
        assert "NOK" in banners_seen(page, {"NOK"})  # the video comes back with the verdict drawn in
        document(page, "live", screenshots, artifacts, settle_ms=0)  # a defect with its heatmap
