import os

import numpy as np
import pytest

from dinoad.config import ProjectConfig
from dinoad.demo import generate_scene
from dinoad.errors import ConfigError, ProjectError
from dinoad.images import load_image, save_png
from dinoad.project import CATEGORIES, ProjectStore, check_name


@pytest.mark.parametrize("name", ["Housing A", "part_7-b", "x" * 64, "Q"])
def test_good_names(name):
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", "..", "a/b", "a\\b", "nul\x00byte", "   ", " lead", "trail ", "x" * 65,
                                  "Раrt", "tab\tname", "semi;colon", "dot.name"])
def test_bad_names_are_refused_with_the_rule(name):
    with pytest.raises(ProjectError, match="letters, digits"):
        check_name(name)


def test_create_list_rename_delete(store):
    project = store.create("Housing A", ProjectConfig(image_size=224))
    assert project.load_config().image_size == 224
    assert all(project.images_dir(category).is_dir() for category in CATEGORIES)
    with pytest.raises(ProjectError, match="already exists"):
        store.create("housing a")
    project.add_image("train/good", generate_scene("good", 0)[0])
    assert store.names() == ["Housing A"]
    assert project.counts()["train/good"] == 1 and not project.is_trained
    renamed = store.rename("Housing A", "Housing B")
    assert renamed.image_paths("train/good") and store.names() == ["Housing B"]
    with pytest.raises(ProjectError, match="type the project name"):
        store.delete("Housing B", confirm="housing b")
    assert store.names() == ["Housing B"]
    store.delete("Housing B", confirm="Housing B")
    assert store.names() == []
    with pytest.raises(ProjectError, match="create it first"):
        store.open("Housing B")


def test_images_are_numbered_and_never_overwritten(store):
    project = store.create("p")
    image = generate_scene("good", 0)[0]
    paths = [project.add_image("test/good", image) for _ in range(3)]
    assert [p.name for p in paths] == ["001.png", "002.png", "003.png"]
    project.remove_image("test/good", "002.png")
    assert project.add_image("test/good", image).name == "004.png"
    assert np.array_equal(load_image(paths[0]), image)
    assert not [p for p in project.images_dir("test/good").iterdir() if p.name.startswith(".")]
    with pytest.raises(ProjectError):
        project.remove_image("test/good", "../config.json")
    with pytest.raises(ProjectError, match="unknown image category"):
        project.add_image("train/bad", image)


def test_import_reports_every_rejected_file_and_keeps_the_good_ones(store, tmp_path):
    project = store.create("p")
    good = tmp_path / "good.png"
    save_png(good, generate_scene("good", 1)[0])
    broken = tmp_path / "broken.png"
    broken.write_text("not an image")
    report = project.import_files("background", [good, broken, tmp_path / "missing.jpg"])
    assert len(report.added) == 1
    assert [os.path.basename(path) for path, _ in report.rejected] == ["broken.png", "missing.jpg"]
    assert project.counts()["background"] == 1


def test_import_a_folder_takes_every_file_in_it(store, tmp_path):
    project = store.create("p")
    for index in range(3):
        save_png(tmp_path / "shots" / f"{index}.png", generate_scene("good", index)[0])
    (tmp_path / "shots" / "notes.txt").write_text("lighting: ring light")
    report = project.import_files("train/good", [tmp_path / "shots"])
    assert len(report.added) == 3
    assert [os.path.basename(path) for path, _ in report.rejected] == ["notes.txt"]


def test_mvtec_category_import_with_masks(store, tmp_path):
    root = tmp_path / "bottle"
    for index in range(4):
        save_png(root / "train" / "good" / f"{index:03d}.png", generate_scene("good", index)[0])
    save_png(root / "test" / "good" / "000.png", generate_scene("good", 10)[0])
    for kind in ("scratch", "spot"):
        image, mask = generate_scene(kind, 0)
        save_png(root / "test" / kind / "000.png", image)
        save_png(root / "ground_truth" / kind / "000_mask.png", np.repeat(mask[:, :, None] * 255, 3, axis=2))
    project = store.create("bottle")
    report = project.import_mvtec(root, shots=2)
    assert project.counts() == {"background": 0, "train/good": 2, "test/good": 1, "test/defect": 2}
    assert len(report.skipped) == 2 and not report.rejected
    masks = sorted(p.name for p in project.masks_dir.iterdir())
    assert masks == ["001.png", "002.png"]
    assert load_image(project.masks_dir / "001.png").max() == 255
    with pytest.raises(ProjectError, match="MVTec"):
        project.import_mvtec(tmp_path / "nothing")


def test_broken_config_files_say_what_to_do(store):
    project = store.create("p")
    project.config_path.write_text("{ half written")
    with pytest.raises(ConfigError, match="not valid JSON"):
        project.load_config()
    project.config_path.write_text('{"knn_k": "three"}')
    with pytest.raises(ConfigError, match="knn_k"):
        project.load_config()
    project.config_path.unlink()
    with pytest.raises(ProjectError, match="no config.json"):
        project.load_config()


def test_projects_root_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DINOAD_PROJECTS", str(tmp_path / "elsewhere"))
    assert ProjectStore().root == tmp_path / "elsewhere"
