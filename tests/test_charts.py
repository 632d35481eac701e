"""Chart builders: valid Vega-Lite specs carrying the scores and the threshold; offline PNG export."""

from __future__ import annotations

import json

import altair as alt
import pytest
import vl_convert

from dinoad import charts
from dinoad.metrics import ConfusionCounts, image_auroc, threshold_metrics

GOOD = [0.11, 0.15, 0.12, 0.21, 0.18]
DEFECT = [0.35, 0.28, 0.52, 0.19]
THRESHOLD = 0.2


def spec_of(chart) -> dict:
    """The chart's Vega-Lite dict; to_dict() validates it against the Vega-Lite schema."""
    assert isinstance(chart, alt.TopLevelMixin)
    return chart.to_dict()


def rows_of(spec: dict) -> list[dict]:
    """Every data row in the spec, wherever Altair placed it."""
    rows = [row for values in spec.get("datasets", {}).values() for row in values]

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("data"), dict) and "values" in node["data"]:
                rows.extend(node["data"]["values"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)
    return rows


def threshold_values(spec: dict) -> list[float]:
    return [row["threshold"] for row in rows_of(spec) if set(row) == {"threshold", "label"}]


SCORE_BUILDERS = [charts.kde_chart, charts.histogram_chart, charts.boxplot_chart, charts.per_image_chart]


@pytest.mark.parametrize("builder", SCORE_BUILDERS)
def test_score_charts_carry_every_score_and_the_threshold(builder):
    spec = spec_of(builder(GOOD, DEFECT, THRESHOLD))
    scored = [row for row in rows_of(spec) if "score" in row and "class" in row]
    assert sorted(r["score"] for r in scored if r["class"] == "good") == sorted(GOOD)
    assert sorted(r["score"] for r in scored if r["class"] == "defect") == sorted(DEFECT)
    assert threshold_values(spec) and set(threshold_values(spec)) == {THRESHOLD}
    assert threshold_values(spec_of(builder(GOOD, DEFECT, None))) == []


def test_kde_is_unstacked_density_with_explicit_bandwidth():
    spec = spec_of(charts.kde_chart(GOOD, DEFECT, THRESHOLD))
    text = json.dumps(spec)
    density = next(t for layer in spec["layer"] for t in layer.get("transform", []) if "density" in t)
    assert density["groupby"] == ["class"]
    assert density["bandwidth"] == pytest.approx(charts.kde_bandwidth(GOOD + DEFECT))
    assert density["extent"][0] <= min(GOOD) and density["extent"][1] >= max(DEFECT)
    assert '"stack": null' in text


def test_kde_bandwidth_never_zero_for_identical_scores():
    assert charts.kde_bandwidth([0.3, 0.3, 0.3]) > 0
    spec_of(charts.kde_chart([0.3, 0.3], [0.3], 0.3))


def test_per_image_chart_has_two_panels_named_and_coloured_by_verdict():
    names_good = [f"g{i}.png" for i in range(len(GOOD))]
    names_defect = [f"d{i}.png" for i in range(len(DEFECT))]
    spec = spec_of(charts.per_image_chart(GOOD, DEFECT, THRESHOLD, names_good, names_defect))
    assert len(spec["hconcat"]) == 2
    rows = {row["name"]: row for row in rows_of(spec) if "name" in row}
    assert set(rows) == set(names_good + names_defect)
    assert rows["g3.png"]["verdict"] == "NOK"  # 0.21 >= 0.2
    assert rows["d3.png"]["verdict"] == "OK"  # 0.19 < 0.2
    with pytest.raises(ValueError):
        charts.per_image_chart(GOOD, DEFECT, THRESHOLD, names_good[:1], names_defect)


def test_confusion_chart_cells_hold_the_counts():
    counts = threshold_metrics(GOOD, DEFECT, THRESHOLD).counts
    assert counts == ConfusionCounts(tp=3, tn=4, fp=1, fn=1)
    spec = spec_of(charts.confusion_chart(counts))
    cells = {row["cell"]: row["count"] for row in rows_of(spec) if "cell" in row}
    assert cells == {"TP": 3, "TN": 4, "FP": 1, "FN": 1}
    marks = json.dumps(spec)
    assert '"rect"' in marks and '"text"' in marks


def test_roc_and_pr_show_area_and_operating_point():
    metrics = threshold_metrics(GOOD, DEFECT, THRESHOLD)
    roc = spec_of(charts.roc_chart(GOOD, DEFECT, THRESHOLD))
    assert f"{image_auroc(GOOD, DEFECT):.3f}" in json.dumps(roc["layer"][0]["title"])
    point = next(row for row in rows_of(roc) if row.get("label") == "operating point")
    assert point["fpr"] == pytest.approx(metrics.fpr.value) and point["tpr"] == pytest.approx(metrics.recall.value)
    pr = spec_of(charts.pr_chart(GOOD, DEFECT, THRESHOLD))
    point = next(row for row in rows_of(pr) if row.get("label") == "operating point")
    assert point["recall"] == pytest.approx(metrics.recall.value)
    assert point["precision"] == pytest.approx(metrics.precision.value)
    assert "AP = " in json.dumps(pr)


def test_metrics_vs_threshold_carries_the_sweep_and_threshold():
    spec = spec_of(charts.metrics_vs_threshold_chart(GOOD, DEFECT, THRESHOLD))
    metrics = {row["metric"] for row in rows_of(spec) if "metric" in row}
    assert metrics == {"accuracy", "precision", "recall", "f1", "fpr"}
    assert set(threshold_values(spec)) == {THRESHOLD}


@pytest.mark.parametrize("good, defect, threshold", [([], [], None), (GOOD, [], 0.2), ([0.3] * 3, [0.3] * 2, 0.3)])
def test_every_builder_survives_missing_or_degenerate_data(good, defect, threshold):
    built = charts.validation_charts(good, defect, threshold)
    assert list(built) == ["score_kde", "score_histogram", "score_boxplot", "per_image_scores", "confusion_matrix",
                           "metrics_vs_threshold", "roc", "precision_recall"]
    for chart in built.values():
        spec_of(chart)
    if not defect:
        assert charts.NEED_BOTH_CLASSES in json.dumps(built["roc"].to_dict())


def test_png_export_works_offline():
    for name, chart in charts.validation_charts(GOOD, DEFECT, THRESHOLD).items():
        png = vl_convert.vegalite_to_png(chart.to_json(), scale=1)
        assert png.startswith(b"\x89PNG\r\n\x1a\n"), name
        assert len(png) > 2000, name
