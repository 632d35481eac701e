import csv
import io

import numpy as np
import pytest

from dinoad.inspection_log import InspectionLog
from dinoad.scoring import ScoredImage, Verdict


def _scored(verdict: Verdict | None, score: float = 0.2) -> ScoredImage:
    return ScoredImage(score, np.zeros((8, 8), np.float32), np.zeros((2, 2), np.float32),
                       {"features": 10.0, "knn": 2.5}, 0.3, verdict)


def test_rows_frames_for_every_nok_and_a_sample_of_oks(tmp_path):
    log = InspectionLog(tmp_path, ok_sample_every=3)
    frame = np.zeros((16, 16, 3), np.uint8)
    for _ in range(6):
        log.record(_scored(Verdict.OK), "v1", frame)
    log.record(_scored(Verdict.NOK, 0.5), "v1", frame, frame)
    log.record(_scored(Verdict.NO_PART, 0.01), "v1", frame)
    rows = log.recent(100)
    assert [r.verdict for r in rows][:2] == ["NO PART", "NOK"] and len(rows) == 8
    assert rows[1].score == pytest.approx(0.5) and rows[1].latency_ms == pytest.approx(12.5)
    assert rows[1].frame and rows[1].heatmap and (tmp_path / rows[1].heatmap).is_file()
    ok_frames = [r.frame for r in rows if r.verdict == "OK" and r.frame]
    assert len(ok_frames) == 2  # OK number 1 and 4 of 6
    assert rows[0].frame is None
    assert log.counts() == {"OK": 6, "NOK": 1, "NO PART": 1}


def test_log_survives_a_restart_and_exports_csv(tmp_path):
    InspectionLog(tmp_path).record(_scored(Verdict.OK), "v1")
    reopened = InspectionLog(tmp_path)
    reopened.record(_scored(Verdict.NOK, 0.9), "v2")
    table = list(csv.DictReader(io.StringIO(reopened.to_csv())))
    assert [row["verdict"] for row in table] == ["OK", "NOK"]
    assert table[1]["model_version"] == "v2" and float(table[1]["score"]) == pytest.approx(0.9)


def test_unwritable_log_path_reports_the_error_and_does_not_raise(tmp_path):
    # A file where the results folder should be fails for root too (tests and CI run as root).
    blocker = tmp_path / "results"
    blocker.write_text("not a folder")
    log = InspectionLog(blocker)
    assert log.record(_scored(Verdict.NOK), "v1", np.zeros((8, 8, 3), np.uint8)) is None
    assert "inspection continues" in log.last_error
    assert log.recent() == []
    blocker.unlink()
    assert log.record(_scored(Verdict.OK), "v1") == 1 and log.last_error is None
