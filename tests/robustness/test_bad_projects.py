"""Bad project names, configs and banks through the command line: one-line reason, exit 1,
nothing lost, and the project usable again once the cause is fixed."""

import json

import pytest

from dinoad.bank import BANK_FILE
from dinoad.cli import main
from dinoad.demo import generate_scene


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.err


@pytest.mark.parametrize("name", ["..", "../up", "a/b", "a\\b", "nul\x00", "   ", "x" * 65, "Pаrt", "Part"])
def test_bad_or_taken_names(tmp_path, capsys, name):
    projects = str(tmp_path)
    assert run(capsys, "create", "Part", "--projects", projects)[0] == 0
    code, err = run(capsys, "create", name, "--projects", projects)
    assert code == 1 and err.count("\n") == 1
    assert "already exists" in err if name == "Part" else "invalid project name" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Part"]


@pytest.fixture
def trained(make_project, tiny_backbone, tiny_dinov3_dir):
    from dinoad.pipeline import train

    project = make_project(train=2, test_good=2, defects=2)
    train(project, backbone=tiny_backbone, export_png=False)
    return project


@pytest.mark.parametrize(
    ("config_text", "words"),
    [
        ("", "not valid JSON"),
        ('{"image_size": 128, "knn_', "not valid JSON"),
        ('{"knn_k": "3"}', "knn_k"),
        ('{"metric": "manhattan"}', "metric must be one of cosine, euclidean"),
        ("[1, 2]", "JSON object"),
    ],
)
def test_broken_config_is_named_and_the_images_stay(trained, capsys, config_text, words):
    projects = str(trained.path.parent)
    counts = trained.counts()
    saved = trained.config_path.read_text()
    trained.config_path.write_text(config_text)
    code, err = run(capsys, "evaluate", trained.name, "--projects", projects)
    assert code == 1 and words in err
    assert trained.counts() == counts and trained.is_trained
    trained.config_path.write_text(saved)
    assert run(capsys, "evaluate", trained.name, "--projects", projects)[0] == 0


def test_missing_config_and_legacy_keys(trained, capsys, caplog):
    projects = str(trained.path.parent)
    data = json.loads(trained.config_path.read_text())
    trained.config_path.write_text(json.dumps({**data, "memory_bank_resolutions": [448]}))
    assert run(capsys, "evaluate", trained.name, "--projects", projects)[0] == 0
    assert "memory_bank_resolutions" in caplog.text
    trained.config_path.unlink()
    code, err = run(capsys, "evaluate", trained.name, "--projects", projects)
    assert code == 1 and "no config.json" in err


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"image_size": 256}, "retrain required: settings changed since training (image_size 128 -> 256)"),
        ({"feature_dim": 16}, "feature_dim 0 -> 16"),
        ({"model_id": "facebook/dinov2-small"}, "model_id"),
    ],
)
def test_bank_from_other_settings_requires_retraining(trained, capsys, change, words):
    config = trained.load_config()
    trained.save_config(config.replace(**change))
    code, err = run(capsys, "predict", trained.name, "--projects", str(trained.path.parent),
                    str(trained.image_paths("test/good")[0]))
    assert code == 1 and words in err


def test_missing_and_corrupted_banks(trained, capsys):
    projects = str(trained.path.parent)
    bank = trained.results_dir / BANK_FILE
    backup = bank.read_bytes()
    bank.write_bytes(backup[:100])
    code, err = run(capsys, "evaluate", trained.name, "--projects", projects)
    assert code == 1 and "damaged" in err and "retrain" in err
    bank.unlink()
    code, err = run(capsys, "evaluate", trained.name, "--projects", projects)
    assert code == 1 and "train it first" in err
    assert run(capsys, "train", trained.name, "--projects", projects)[0] == 0


def test_zero_good_images_and_fewer_than_shots(make_project, capsys, caplog):
    empty = make_project(name="empty", train=0, test_good=1, defects=1)
    code, err = run(capsys, "train", "empty", "--projects", str(empty.path.parent))
    assert code == 1 and "no good training images" in err
    few = make_project(name="few", train=2, test_good=0, defects=0, shots=5)
    assert run(capsys, "train", "few", "--projects", str(few.path.parent))[0] == 0
    assert "fewer than shots=5" in caplog.text


def test_no_defects_no_background_and_identical_scores_still_train(make_project, tiny_backbone, caplog):
    from dinoad.pipeline import train

    project = make_project(name="plain", train=2, test_good=5, defects=0, background=0)
    result = train(project, backbone=tiny_backbone, export_png=False)
    assert project.is_trained and result.validation is not None
    told = " ".join(result.validation.statistics["notes"] + result.validation.warnings)
    assert "defect" in told and "background" in told
    identical = make_project(name="same", train=1, test_good=0, defects=0)
    for _ in range(5):
        identical.add_image("test/good", generate_scene("good", 0)[0])  # the training image: score 0 each
        identical.add_image("test/defect", generate_scene("good", 0)[0])
    result = train(identical, backbone=tiny_backbone, export_png=False)
    assert identical.load_config().threshold is not None
    assert result.evaluation.image_auroc == pytest.approx(0.5)

