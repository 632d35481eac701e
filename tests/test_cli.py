import json
import subprocess
import sys
from pathlib import Path

import pytest

from dinoad.cli import main
from dinoad.demo import DEFECT_KINDS, generate_scene
from dinoad.images import load_image, save_png

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def scenes(tmp_path) -> dict[str, list[Path]]:
    folders = {"good": 7, "defect": 4}
    found: dict[str, list[Path]] = {}
    for label, count in folders.items():
        found[label] = []
        for index in range(count):
            kind = "good" if label == "good" else DEFECT_KINDS[index % len(DEFECT_KINDS)]
            path = tmp_path / "camera" / f"{label}_{index}.png"
            save_png(path, generate_scene(kind, index)[0])
            found[label].append(path)
    return found


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_create_import_train_evaluate_predict(tmp_path, capsys, scenes, tiny_dinov3_dir):
    projects = str(tmp_path / "projects")
    code, out, _ = run(capsys, "create", "Bracket", "--projects", projects, "--model", str(tiny_dinov3_dir),
                       "--image-size", "128", "--shots", "3", "--knn-k", "2", "--coreset", "greedy",
                       "--coreset-ratio", "0.5", "--dtype", "float32", "--json")
    assert code == 0 and json.loads(out)["config"]["knn_k"] == 2
    assert run(capsys, "import", "Bracket", "--projects", projects, "--category", "train/good",
               *map(str, scenes["good"][:3]))[0] == 0
    assert run(capsys, "import", "Bracket", "--projects", projects, "--category", "test/good",
               *map(str, scenes["good"][3:]))[0] == 0
    assert run(capsys, "import", "Bracket", "--projects", projects, "--category", "test/defect",
               *map(str, scenes["defect"]))[0] == 0

    code, out, _ = run(capsys, "train", "Bracket", "--projects", projects, "--json")
    trained = json.loads(out)
    assert code == 0 and trained["bank_patches"] == 3 * 64 // 2 and trained["train_images"] == 3

    code, out, _ = run(capsys, "evaluate", "Bracket", "--projects", projects, "--json")
    evaluation = json.loads(out)
    assert code == 0 and len(evaluation["good"]) == 4 and len(evaluation["defect"]) == 4
    assert 0.0 <= evaluation["image_auroc"] <= 1.0

    heatmaps = tmp_path / "heat"
    code, out, _ = run(capsys, "predict", "Bracket", "--projects", projects, "--json", "--heatmap-dir",
                       str(heatmaps), str(scenes["good"][0]), str(scenes["defect"][0]))
    predictions = json.loads(out)
    assert code == 0 and [p["model_version"] for p in predictions] == [trained["model_version"]] * 2
    assert predictions[0]["score"] < predictions[1]["score"]
    assert load_image(Path(predictions[1]["heatmap"])).shape == load_image(scenes["defect"][0]).shape

    code, out, _ = run(capsys, "list", "--projects", projects, "--json")
    [listed] = json.loads(out)
    assert listed["trained"] and listed["counts"]["test/defect"] == 4


def test_import_rejects_bad_files_but_keeps_the_rest_and_exits_non_zero(tmp_path, capsys, scenes):
    projects = str(tmp_path / "projects")
    run(capsys, "create", "p", "--projects", projects)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG broken")
    code, out, _ = run(capsys, "import", "p", "--projects", projects, "--category", "background",
                       str(scenes["good"][0]), str(bad))
    assert code == 1
    assert "imported 1 image(s)" in out and "rejected" in out and "bad.png" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["create", "../escape"], "invalid project name"),
        (["create", "p", "--image-size", "100"], "image_size must be between 128 and 1024"),
        (["create", "p", "--coreset-ratio", "0"], "coreset_ratio must be in (0, 1]"),
        (["train", "missing"], "no project named 'missing'"),
        (["predict", "missing", "x.png"], "no project named 'missing'"),
    ],
)
def test_errors_exit_non_zero_with_a_one_line_reason(tmp_path, capsys, argv, message):
    code, _, err = run(capsys, *argv, "--projects", str(tmp_path))
    assert code == 1
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_untrained_project_and_unreachable_model(tmp_path, capsys):
    projects = str(tmp_path)
    run(capsys, "create", "p", "--projects", projects, "--model", str(tmp_path / "no-model"))
    code, _, err = run(capsys, "evaluate", "p", "--projects", projects)
    assert code == 1 and "train it first" in err
    save_png(tmp_path / "p" / "images" / "train" / "good" / "001.png", generate_scene("good", 0)[0])
    code, _, err = run(capsys, "train", "p", "--projects", projects)
    assert code == 1 and "does not exist" in err


def test_module_entry_point_runs(tmp_path):
    done = subprocess.run([sys.executable, "-m", "dinoad", "list", "--projects", str(tmp_path), "--json"],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_list_shows_retrain_required_and_broken_configs(tmp_path, capsys, make_project, tiny_backbone):
    from dinoad.pipeline import train

    project = make_project(name="changed", train=1, test_good=0, defects=0)
    train(project, backbone=tiny_backbone, export_png=False)
    project.save_config(project.load_config().replace(image_size=256))
    broken = make_project(name="broken", train=0, test_good=0, defects=0)
    broken.config_path.write_text('{"knn_k": "three"}')
    code, out, _ = run(capsys, "list", "--projects", str(project.path.parent), "--json")
    by_name = {entry["name"]: entry for entry in json.loads(out)}
    assert code == 0
    assert by_name["changed"]["trained"] and by_name["changed"]["retrain_required"]
    assert "knn_k" in by_name["broken"]["error"]
    code, out, _ = run(capsys, "list", "--projects", str(project.path.parent))
    assert "changed\ttrained (retrain required)" in out
