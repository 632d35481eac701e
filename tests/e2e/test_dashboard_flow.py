"""From an empty projects folder to a validated project, in Chromium, through the real WebRTC camera.

Each capture step runs in its own Chromium whose fake camera plays that step's scenes (a camera
file is fixed when the browser starts). The server and the browsers share the test's private
network namespace (see conftest.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from browser_support import CHROMIUM_FLAGS
from fake_camera_file import make_camera_file, scenes

from dinoad.demo import generate_scene
from dinoad.images import load_image
from dinoad.project import ProjectStore
from dinoad.storage import read_json

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PROJECT = "e2e part"
SHOTS = 3
CAPTURES = {"background": 3, "good": 6, "defect": 3}
STEP_LABELS = {"background": "0. Background", "good": "1. Good parts", "defect": "2. Defects"}
STEP_TITLES = {"background": "Background", "good": "Good parts", "defect": "Defects"}
VIEWPORT = {"width": 1400, "height": 1800}
UI_TIMEOUT_MS = 60_000
TRAIN_TIMEOUT_MS = 240_000
VALIDATION_CHARTS = 8  # every chart of dinoad.charts.validation_charts
MAX_TRANSIT_DIFFERENCE = 8.0  # mean grey levels, saved frame vs its scene (seen: 1.8-4.6; other scenes 5.6+)


def keyed(page, key: str, role: str = "button"):
    """The widget Streamlit renders for ``key`` (it tags the element with class st-key-<key>)."""
    return page.locator(f".st-key-{key}").get_by_role(role)


@contextmanager
def chromium(playwright, namespace, artifacts, name: str, camera_file=None) -> Iterator:
    """One Chromium in the namespace (optionally with a fake camera file) and its page; on a failure
    the page is saved as test-artifacts/failure-<name>.png before the browser closes."""
    args = list(CHROMIUM_FLAGS)
    if camera_file is not None:
        args.append(f"--use-file-for-fake-video-capture={camera_file}")
    browser = playwright.chromium.launch(executable_path=str(namespace.chromium_wrapper), args=args)
    page = browser.new_page(viewport=VIEWPORT)
    page.set_default_timeout(UI_TIMEOUT_MS)
    try:
        yield page
    except BaseException:
        page.screenshot(path=str(artifacts / f"failure-{name}.png"), full_page=True)
        raise
    finally:
        browser.close()


def open_page(page, url: str):
    page.goto(url)
    page.get_by_role("heading").first.wait_for()
    return page


def screenshot(page, artifacts, name: str) -> None:
    page.wait_for_timeout(500)  # let charts and images finish drawing
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)


VIDEO_PLAYING = (
    "() => { const f = [...document.querySelectorAll('iframe')].find(i => i.title.includes('streamlit_webrtc'));"
    " const v = f && f.contentDocument && f.contentDocument.querySelector('video');"
    " return v && v.videoWidth > 0 && v.currentTime > 0.5; }"
)


def start_camera(page) -> None:
    """Press START in the streamlit-webrtc component and wait until video comes back from the server.

    On a heavily loaded machine the WebRTC handshake can stall once; like a user, press STOP and
    START again before giving up.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    component = page.frame_locator("iframe[title*='streamlit_webrtc']").first
    component.get_by_role("button", name="START").click()
    component.locator("video").wait_for()
    try:
        page.wait_for_function(VIDEO_PLAYING, timeout=UI_TIMEOUT_MS)
    except PlaywrightTimeout:
        component.get_by_role("button", name="STOP").click()
        component.get_by_role("button", name="START").click()
        page.wait_for_function(VIDEO_PLAYING, timeout=UI_TIMEOUT_MS)


def capture(page, step: str, expected: int, target: int) -> list[str]:
    """Press Capture until the step's counter shows ``expected``; returns any check warnings seen
    (each answered with "Save anyway")."""
    counter = page.get_by_text(f"{STEP_TITLES[step]}: {expected} / {target}")
    seen: list[str] = []
    for _ in range(10):
        keyed(page, "capture_button").click()
        save_anyway = keyed(page, "save_anyway")
        no_frame = page.get_by_text("No camera picture yet")
        counter.or_(save_anyway).or_(no_frame).first.wait_for()
        if counter.is_visible():
            page.wait_for_timeout(1100)  # the fake camera moves on to the next scene every second
            return seen
        if save_anyway.is_visible():
            seen.extend(page.locator("[data-testid='stAlertContentWarning']").all_inner_texts())
            save_anyway.click()
            counter.wait_for()
            page.wait_for_timeout(1100)
            return seen
        page.wait_for_timeout(1000)  # no frame yet: the connection is still starting
    raise AssertionError(f"capture in step {step} never reached {expected}")


def test_new_user_goes_from_empty_folder_to_validated_project(
    streamlit_server, namespace, playwright_instance, artifacts, tiny_dinov3_dir, tmp_path
):
    url = streamlit_server.url
    store = ProjectStore(streamlit_server.projects)

    # 1. Projects: create the project with the tiny model at 128 px.
    with chromium(playwright_instance, namespace, artifacts, "projects") as page:
        open_page(page, url)
        page.get_by_text("No projects yet in").wait_for()
        page.locator(".st-key-new_name input").fill(PROJECT)
        page.locator(".st-key-new_model_id input").fill(str(tiny_dinov3_dir))
        page.locator(".st-key-new_image_size input").fill("128")
        page.locator(".st-key-new_shots input").fill(str(SHOTS))
        page.locator(".st-key-new_dtype").click()
        page.get_by_role("option", name="float32", exact=True).click()
        page.get_by_role("button", name="Create project").click()
        page.get_by_text(f"Created project '{PROJECT}'").wait_for()
        assert re.search(r"[?&]project=e2e(\+|%20)part", page.url), page.url
        config = store.open(PROJECT).load_config()
        assert (config.image_size, config.shots, config.dtype) == (128, SHOTS, "float32")
        screenshot(page, artifacts, "1-projects")

    # 2. Capture every step through the real WebRTC component from a fake camera.
    targets = {}
    for step, count in CAPTURES.items():
        camera_file = make_camera_file(tmp_path / f"{step}.y4m", step, count + 2, first_index=10)
        with chromium(playwright_instance, namespace, artifacts, f"capture-{step}", camera_file) as page:
            open_page(page, f"{url}/capture?project={PROJECT}")
            page.get_by_text(re.compile("^" + re.escape(STEP_LABELS[step]))).click()
            progress = page.get_by_text(re.compile(rf"^{STEP_TITLES[step]}: 0 / (\d+)$"))
            progress.wait_for()
            targets[step] = int(re.search(r"/ (\d+)", progress.inner_text()).group(1))
            start_camera(page)
            warnings = []
            for number in range(1, count + 1):
                warnings += capture(page, step, number, targets[step])
            print(f"{step}: {count} captures, check warnings: {warnings}")
            screenshot(page, artifacts, f"2-capture-{step}")
    project = store.open(PROJECT)
    counts = project.counts()
    assert counts["background"] == CAPTURES["background"]
    assert counts["train/good"] + counts["test/good"] == CAPTURES["good"]
    assert counts["train/good"] == SHOTS
    assert counts["test/defect"] == CAPTURES["defect"]
    for step, categories in (("background", ["background"]), ("good", ["train/good", "test/good"]),
                             ("defect", ["test/defect"])):
        shown = [generate_scene(kind, index)[0] for kind, index in scenes(step, CAPTURES[step] + 2, first_index=10)]
        for category in categories:
            for path in project.image_paths(category):
                saved = load_image(path)
                assert saved.shape == shown[0].shape  # the camera's own resolution, not resized
                # Frames are video-compressed in transit: the saved image is close to one scene of its clip.
                closest = min(float(np.abs(saved.astype(int) - scene.astype(int)).mean()) for scene in shown)
                assert closest < MAX_TRANSIT_DIFFERENCE, (path, closest)

    # 3. Train with the tiny model and watch the progress.
    with chromium(playwright_instance, namespace, artifacts, "train-validation") as page:
        open_page(page, f"{url}/train?project={PROJECT}")
        keyed(page, "train_button").click()
        page.get_by_text(re.compile(rf"^Trained on {SHOTS} good image")).wait_for(timeout=TRAIN_TIMEOUT_MS)
        assert project.is_trained
        screenshot(page, artifacts, "3-train")
        keyed(page, "train_to_validation").click()

        # 4. Validation: charts, the threshold slider, save.
        page.get_by_role("heading", name="Validation").wait_for()
        validate(page, project, artifacts)


def validate(page, project, artifacts) -> None:
    charts = page.locator("[data-testid='stVegaLiteChart']")
    charts.first.wait_for()
    page.wait_for_function(f"() => document.querySelectorAll(\"[data-testid='stVegaLiteChart']\").length"
                           f" === {VALIDATION_CHARTS}")
    screenshot(page, artifacts, "4-validation")

    slider = page.locator(".st-key-threshold_slider input[type=range]")
    saved = float(slider.input_value())
    assert saved == pytest.approx(project.load_config().threshold, abs=1e-3)
    counts_before = page.locator(".st-key-confusion_counts").inner_text()
    slider.focus()
    page.keyboard.press("Home")  # the lowest threshold: every test image NOK
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "saved => Number(document.querySelector('.st-key-threshold_slider input[type=range]').value) < saved",
        arg=saved)
    counts_after = page.locator(".st-key-confusion_counts")
    counts_after.get_by_text("0 good passed (TN)").wait_for()  # the rerun redrew the metrics
    assert counts_after.inner_text() != counts_before
    moved = float(slider.input_value())
    assert moved < saved
    screenshot(page, artifacts, "5-validation-slider")
    keyed(page, "save_threshold").click()
    page.get_by_text("Threshold saved").wait_for()
    config = read_json(project.config_path)
    assert config["threshold_method"] == "manual"
    assert config["threshold"] == pytest.approx(moved, abs=1e-3)
    screenshot(page, artifacts, "6-validation-saved")
