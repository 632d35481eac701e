import json

import numpy as np

from dinoad.cli import main
from dinoad.demo import DEFECT_KINDS, generate_scene
from dinoad.demo_project import DEMO_SHOTS, create_demo_project, demo_clip_frames
from dinoad.images import load_image
from dinoad.pipeline import train
from dinoad.video import read_frames


def test_scenes_are_deterministic_and_defects_come_with_masks():
    first, none = generate_scene("good", 3)
    again, _ = generate_scene("good", 3)
    assert none is None and np.array_equal(first, again)
    assert not np.array_equal(first, generate_scene("good", 4)[0])
    for kind in DEFECT_KINDS:
        image, mask = generate_scene(kind, 0)
        assert image.shape == first.shape and mask.any(), kind


def test_demo_project_has_every_category_masks_and_a_clip(store, tiny_dinov3_dir):
    project = create_demo_project(store, "Demo", str(tiny_dinov3_dir))
    counts = project.counts()
    assert counts == {"background": 5, "train/good": DEMO_SHOTS, "test/good": 24 - DEMO_SHOTS, "test/defect": 12}
    assert len(list(project.masks_dir.glob("*.png"))) == 12
    clip = list(read_frames(project.path / "demo" / "clip.y4m"))
    assert len(clip) == len(demo_clip_frames())
    assert len(list(read_frames(project.path / "demo" / "clip.mp4"))) == len(clip)
    stored = load_image(project.image_paths("train/good")[0])
    assert np.array_equal(stored, generate_scene("good", 0)[0])


def test_demo_project_trains_and_separates_defects(store, tiny_backbone, tiny_dinov3_dir):
    project = create_demo_project(store, "Demo", str(tiny_dinov3_dir))
    project.save_config(project.load_config().replace(dtype="float32"))
    result = train(project, backbone=tiny_backbone)
    assert result.evaluation.image_auroc > 0.7


def test_demo_command(tmp_path, capsys, tiny_dinov3_dir):
    assert main(["demo", "Demo", "--projects", str(tmp_path), "--model", str(tiny_dinov3_dir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"]["test/defect"] == 12
    assert main(["demo", "Demo", "--projects", str(tmp_path)]) == 1
    assert "already exists" in capsys.readouterr().err
