import json
import multiprocessing
import socket

import pytest

from dinoad.locks import ProjectBusy, project_lock


def test_a_second_holder_is_refused_with_a_clear_message(tmp_path):
    with project_lock(tmp_path, "training"):
        with pytest.raises(ProjectBusy, match="busy with training"), project_lock(tmp_path, "training"):
            pass
        with pytest.raises(ProjectBusy, match="busy with training"), project_lock(tmp_path, "feedback"):
            pass
    with project_lock(tmp_path, "training"):  # released after use
        pass
    assert not list(tmp_path.glob(".*.lock"))


def test_the_lock_is_released_when_the_job_fails(tmp_path):
    with pytest.raises(RuntimeError), project_lock(tmp_path, "training"):
        raise RuntimeError("training crashed")
    with project_lock(tmp_path, "training"):
        pass


def _exit_quickly() -> None:
    pass


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path):
    process = multiprocessing.get_context("spawn").Process(target=_exit_quickly)
    process.start()
    process.join()
    (tmp_path / ".bank.lock").write_text(json.dumps({"pid": process.pid, "host": socket.gethostname()}))
    with project_lock(tmp_path, "training"):
        pass
    (tmp_path / ".bank.lock").write_text("")  # half-written by a process that died at once
    with project_lock(tmp_path, "training"):
        pass


def test_a_lock_held_by_a_live_process_on_this_host_blocks(tmp_path):
    import os

    (tmp_path / ".bank.lock").write_text(json.dumps({"pid": os.getppid(), "host": socket.gethostname()}))
    with pytest.raises(ProjectBusy, match="wait until it has finished"), project_lock(tmp_path, "training"):
        pass
