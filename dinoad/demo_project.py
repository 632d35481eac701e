"""The demo project: a complete, deterministic inspection project made from the synthetic scene."""

from __future__ import annotations

import numpy as np

from dinoad.config import ProjectConfig
from dinoad.demo import DEFECT_KINDS, SCENE_SIZE, generate_scene
from dinoad.images import save_png
from dinoad.project import Project, ProjectStore
from dinoad.video import write_mp4, write_y4m

DEMO_COUNTS = {"background": 5, "good": 24, "defect": 12}
DEMO_IMAGE_SIZE = 224  # a multiple of 16 (DINOv3) and of 14 (DINOv2): the demo works with either
DEMO_SHOTS = 10
CLIP_FPS = 10
CLIP_DIR = "demo"


def demo_clip_frames(seed: int = 0, parts: int = 4) -> list[np.ndarray]:
    """Parts passing by: empty scene, a part slides in, rests, slides out. Every second part is
    defective, so the clip shows NO PART, OK and NOK in turn."""
    width = SCENE_SIZE[1]
    slide = [-width, -width * 0.6, -width * 0.3]
    frames: list[np.ndarray] = []
    for part in range(parts):
        kind = "good" if part % 2 == 0 else DEFECT_KINDS[(part // 2) % len(DEFECT_KINDS)]
        index = 600 + part
        frames += [generate_scene("background", 500 + part * 10 + i, seed)[0] for i in range(4)]
        frames += [generate_scene(kind, index, seed, offset_x=x)[0] for x in slide]
        frames += [generate_scene(kind, index, seed)[0] for _ in range(8)]
        frames += [generate_scene(kind, index, seed, offset_x=-x)[0] for x in reversed(slide)]
    return frames


def create_demo_project(store: ProjectStore, name: str, model_id: str | None = None, seed: int = 0) -> Project:
    """Create a project with 5 backgrounds, 24 good parts (``shots`` to the bank, the rest for
    validation), 12 defects (3 of each kind, with masks) and a clip in demo/clip.y4m + clip.mp4."""
    config = ProjectConfig(image_size=DEMO_IMAGE_SIZE, shots=DEMO_SHOTS)
    if model_id:
        config = config.replace(model_id=model_id)
    project = store.create(name, config)
    for index in range(DEMO_COUNTS["background"]):
        project.add_image("background", generate_scene("background", index, seed)[0])
    for index in range(DEMO_COUNTS["good"]):
        category = "train/good" if index < DEMO_SHOTS else "test/good"
        project.add_image(category, generate_scene("good", index, seed)[0])
    for index in range(DEMO_COUNTS["defect"]):
        image, mask = generate_scene(DEFECT_KINDS[index % len(DEFECT_KINDS)], index, seed)
        saved = project.add_image("test/defect", image)
        save_png(project.masks_dir / saved.name, np.repeat(mask[:, :, None] * 255, 3, axis=2))
    frames = demo_clip_frames(seed)
    write_y4m(project.path / CLIP_DIR / "clip.y4m", frames, CLIP_FPS)
    write_mp4(project.path / CLIP_DIR / "clip.mp4", frames, CLIP_FPS)
    return project
