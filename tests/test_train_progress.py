from dinoad.train_progress import ProgressTracker, format_seconds, stage_of


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_stage_ignores_counts():
    assert stage_of("features 3/10") == stage_of("features 9/10") != stage_of("scoring test images 1/4")


def test_estimate_extrapolates_the_current_stage_only():
    clock = Clock()
    tracker = ProgressTracker(clock)
    clock.now += 2.0  # model loading before the first callback
    tracker.update(0, 10, "features 0/10")
    clock.now += 3.0
    fraction, line = tracker.update(3, 10, "features 3/10")
    assert fraction == 0.3
    assert "5 s elapsed" in line and "about 7 s left in this stage" in line  # 3 s for 30 % -> 7 s for 70 %
    clock.now += 1.0
    fraction, line = tracker.update(1, 4, "scoring test images 1/4")
    assert tracker.finished_stages == ["features 3/10"]
    assert "left" not in line  # no time spent in the new stage yet: no estimate
    clock.now += 1.0
    _, line = tracker.update(2, 4, "scoring test images 2/4")
    assert "about 1 s left" in line and "7 s elapsed" in line


def test_durations_read_naturally():
    assert format_seconds(4.4) == "4 s"
    assert format_seconds(125) == "2 min 05 s"
    assert format_seconds(-1) == "0 s"
