"""Concurrent sessions and killed processes: inspection goes on, nothing is corrupted, the previous
model stays loadable."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from dinoad.bank import load_bank
from dinoad.demo import generate_scene
from dinoad.locks import ProjectBusy
from dinoad.pipeline import Inspector, train

REPO = Path(__file__).resolve().parents[2]
KILL_TIMEOUT = 120  # seconds to wait for the child to reach the point where it is killed


def test_live_scoring_goes_on_while_another_session_retrains(make_project, tiny_backbone):
    project = make_project(train=3, test_good=2, defects=2)
    first = train(project, backbone=tiny_backbone, export_png=False).bank.version
    live = Inspector.for_project(project, backbone=tiny_backbone)
    frame = generate_scene("spot", 1)[0]
    expected = live.score(frame).score
    scores, errors = [], []
    stop = threading.Event()

    def inspect_the_line():
        while not stop.is_set():
            try:
                scores.append(live.score(frame).score)
            except Exception as exc:  # any failure here is what the test looks for
                errors.append(exc)

    line = threading.Thread(target=inspect_the_line)
    line.start()
    project.add_image("train/good", generate_scene("good", 40)[0])
    try:
        second = train(project, backbone=tiny_backbone, export_png=False).bank.version
    finally:
        stop.set()
        line.join()
    assert not errors and len(scores) > 0
    assert all(score == pytest.approx(expected) for score in scores)  # the running session keeps its bank
    assert second != first
    assert Inspector.for_project(project, backbone=tiny_backbone).model_version == second


def test_two_trainings_of_one_project_at_once(make_project, tiny_backbone):
    project = make_project(train=3, test_good=1, defects=1)
    first_is_training, second_has_tried = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def first_session_progress(done: int, total: int, message: str) -> None:
        first_is_training.set()
        second_has_tried.wait(timeout=60)  # hold the first training open until the second has tried

    def first_session():
        outcome["first"] = train(project, backbone=tiny_backbone, progress=first_session_progress,
                                 export_png=False).bank.version

    thread = threading.Thread(target=first_session)
    thread.start()
    assert first_is_training.wait(timeout=60)
    try:
        with pytest.raises(ProjectBusy) as refused:
            train(project, backbone=tiny_backbone, export_png=False)
    finally:
        second_has_tried.set()
        thread.join()
    assert "busy with training" in str(refused.value) and "wait until it has finished" in str(refused.value)
    assert load_bank(project.results_dir).version == outcome["first"]


def _start(script: str, env_extra: dict[str, str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), **env_extra}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _kill_when(process: subprocess.Popen, marker: str) -> str:
    seen = ""
    deadline = time.monotonic() + KILL_TIMEOUT
    while marker not in seen:
        chunk = process.stdout.readline()
        if not chunk and process.poll() is not None:
            raise AssertionError(f"child ended before {marker!r}: {seen[-2000:]}")
        seen += chunk
        if time.monotonic() > deadline:
            break
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    return seen


def test_killed_during_training_leaves_the_previous_model(make_project, tiny_backbone):
    project = make_project(train=3, test_good=2, defects=2)
    before = train(project, backbone=tiny_backbone, export_png=False).bank.version
    for index in range(40):
        project.add_image("train/good", generate_scene("good", 200 + index)[0])
    project.save_config(project.load_config().replace(augment_rotations="45"))  # slow enough to be killed
    config_before = project.config_path.read_text()
    child = _start("""
        from dinoad.pipeline import train
        from dinoad.project import ProjectStore
        train(ProjectStore().open("part"), progress=lambda done, total, message: print(message, flush=True))
    """, {"DINOAD_PROJECTS": str(project.path.parent)})
    output = _kill_when(child, "features 8/")
    assert child.returncode == -signal.SIGKILL, output
    assert load_bank(project.results_dir).version == before
    assert project.config_path.read_text() == config_before
    project.save_config(project.load_config().replace(augment_rotations="none"))
    Inspector.for_project(project, backbone=tiny_backbone).score(generate_scene("good", 1)[0])  # previous model
    assert train(project, backbone=tiny_backbone, export_png=False).bank.version != before  # stale lock taken over


def test_killed_during_bank_updates_leaves_a_loadable_bank(make_project, tiny_backbone):
    project = make_project(train=2, test_good=0, defects=0)
    train(project, backbone=tiny_backbone, export_png=False)
    child = _start("""
        from dinoad.backbone import load_backbone
        from dinoad.demo import generate_scene
        from dinoad.feedback import add_good_feedback
        from dinoad.pipeline import Inspector
        from dinoad.project import ProjectStore
        project = ProjectStore().open("part")
        inspector = Inspector.for_project(project)
        bank = inspector.bank
        for index in range(10_000):
            bank = add_good_feedback(project, bank, inspector.backbone, inspector.config,
                                     generate_scene("good", 300 + index)[0])
            print("updated", index, flush=True)
    """, {"DINOAD_PROJECTS": str(project.path.parent)})
    _kill_when(child, "updated 5")
    bank = load_bank(project.results_dir)
    assert bank.features.shape[0] == bank.info.num_patches >= 2 * 64
    inspector = Inspector.for_project(project, backbone=tiny_backbone)
    assert inspector.model_version == bank.version
    inspector.score(generate_scene("good", 1)[0])
