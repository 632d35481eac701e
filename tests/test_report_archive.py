import io
import json
import zipfile

import pytest

from dinoad.errors import ProjectError
from dinoad.pipeline import train
from dinoad.report_archive import report_zip


def test_report_zip_holds_statistics_charts_and_html(make_project, tiny_backbone):
    project = make_project(train=3, test_good=5, defects=5)
    train(project, backbone=tiny_backbone)
    with zipfile.ZipFile(io.BytesIO(report_zip(project))) as archive:
        names = set(archive.namelist())
        statistics = json.loads(archive.read("part/results/val/statistics.json"))
    assert {"part/results/val/raw_scores.json", "part/results/val/report.html", "part/results/val/roc.png",
            "part/results/threshold_validation.json", "part/config.json"} <= names
    assert statistics["threshold"] == project.load_config().threshold


def test_untrained_project_has_no_report(store):
    with pytest.raises(ProjectError, match="train it first"):
        report_zip(store.create("new"))
