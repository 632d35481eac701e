import io
import json
import zipfile

import pytest

from dinoad.config import ProjectConfig
from dinoad.demo import DEFECT_KINDS, generate_scene
from dinoad.metrics import confusion_counts
from dinoad.pipeline import train
from dinoad.project import ProjectStore
from dinoad.report import load_raw_scores

PAGE = "pages/validation.py"
CHART_NAMES = ("score_kde", "score_histogram", "score_boxplot", "per_image_scores", "confusion_matrix",
               "metrics_vs_threshold", "roc", "precision_recall")


@pytest.fixture
def trained(projects_root, tiny_dinov3_dir, tiny_backbone):
    project = ProjectStore(projects_root).create(
        "checked", ProjectConfig(model_id=str(tiny_dinov3_dir), image_size=128, dtype="float32", shots=3))
    for index in range(3):
        project.add_image("train/good", generate_scene("good", index)[0])
    for index in range(5):
        project.add_image("test/good", generate_scene("good", 40 + index)[0])
        project.add_image("test/defect", generate_scene(DEFECT_KINDS[index % 4], index)[0])
    train(project, backbone=tiny_backbone)
    return project


def charts(at) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]


def confusion_line(at) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("At this threshold"))


def test_untrained_project_is_sent_to_train(app, projects_root):
    project = ProjectStore(projects_root).create("raw", ProjectConfig(image_size=128))
    project.add_image("train/good", generate_scene("good", 0)[0])
    at = app(page=PAGE, project="raw")
    assert "train the project" in at.info[0].value
    at.button(key="validation_next").click()
    at.run()
    assert at.title[0].value == "Train"


def test_every_chart_metric_and_the_saved_threshold_are_shown(app, trained):
    at = app(page=PAGE, project="checked")
    assert not at.exception
    saved = trained.load_config().threshold
    assert at.slider(key="threshold_slider").value == pytest.approx(saved)
    specs = charts(at)
    assert len(specs) == len(CHART_NAMES)
    labels = [m.label for m in at.metric]
    for label in ("Accuracy", "Precision", "Recall (defects caught)", "F1", "False alarm rate (FPR)",
                  "Escape rate (FNR)", "Image AUROC", "Average precision"):
        assert label in labels
    assert any(c.value.startswith("95 % CI") for c in at.caption)
    raw = load_raw_scores(trained)
    counts = confusion_counts(raw["good"]["scores"], raw["defect"]["scores"], saved)
    assert f"**{counts.fp}** false alarms" in confusion_line(at)
    captions = [image.proto.imgs[0].caption for image in at.get("image")]
    shown = sorted(float(c.split("score ")[1].split(" ")[0]) for c in captions)
    expected = sorted(round(s, 4) for s in raw["good"]["scores"] + raw["defect"]["scores"])
    assert shown == pytest.approx(expected, abs=1e-4)  # every test image once, with its score
    assert float(captions[0].split("score ")[1].split(" ")[0]) == pytest.approx(expected[-1], abs=1e-4)  # first


def test_slider_updates_metrics_and_charts_and_save_makes_it_manual(app, trained):
    at = app(page=PAGE, project="checked")
    raw = load_raw_scores(trained)
    everything = raw["good"]["scores"] + raw["defect"]["scores"]
    lowest = min(everything)
    before_line, before_specs = confusion_line(at), charts(at)

    at.slider(key="threshold_slider").set_value(lowest)  # every image NOK
    at.run()
    value = at.slider(key="threshold_slider").value
    counts = confusion_counts(raw["good"]["scores"], raw["defect"]["scores"], value)
    assert counts.tn == 0 and counts.fn == 0
    assert confusion_line(at) != before_line
    assert f"**{counts.fp}** false alarms" in confusion_line(at)
    assert charts(at) != before_specs  # the threshold rule and operating points moved
    assert any(m.value.startswith(":red-background[**false alarm") for m in at.markdown)

    at.button(key="save_threshold").click()
    at.run()
    config = trained.load_config()
    assert config.threshold_method == "manual"
    assert config.threshold == pytest.approx(value)
    assert any("Threshold saved" in s.value for s in at.success)
    assert at.slider(key="threshold_slider").value == pytest.approx(value)
    statistics = json.loads((trained.results_dir / "val" / "statistics.json").read_text())
    assert statistics["threshold"] == pytest.approx(value)


def test_report_download_is_a_zip_of_the_report(app, trained):
    at = app(page=PAGE, project="checked")
    button = at.get("download_button")[0]
    assert button.proto.label == "Download report (zip)"
    # The served bytes equal the report zip of the project (AppTest exposes the media URL only).
    from dinoad.report_archive import report_zip

    with zipfile.ZipFile(io.BytesIO(report_zip(trained))) as archive:
        assert "checked/results/val/report.html" in archive.namelist()
