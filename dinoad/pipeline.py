"""The workflow: project folder -> patch features -> memory bank -> scores -> verdicts."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from dinoad.backbone import Backbone, load_backbone
from dinoad.background import BackgroundDetector, fit_background, load_background_bank, save_no_part_model
from dinoad.bank import BankInfo, MemoryBank, bank_settings, check_compatible, encode_bank, load_bank, write_bank
from dinoad.config import ProjectConfig, check_image_size
from dinoad.coreset import select_coreset
from dinoad.errors import DinoadError, ProjectError
from dinoad.feedback import clear_feedback_history
from dinoad.images import frame_to_rgb, load_image
from dinoad.knn import KnnIndex
from dinoad.locks import project_lock
from dinoad.metrics import pixel_auroc, pixel_grid_size, prepare_map, prepare_mask
from dinoad.preprocess import ROTATION_COPIES, resize_square, rotations, to_batch
from dinoad.project import Project
from dinoad.projection import project, projection_matrix
from dinoad.report import Validation, build_validation, save_to_config, write_validation
from dinoad.scoring import ScoredImage, anomaly_map, decide, image_score

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]  # (done, total, message)


def _no_progress(done: int, total: int, message: str) -> None:
    pass


def load_project_backbone(config: ProjectConfig) -> Backbone:
    """Load the project's backbone and check that its resolution fits the model's patch size."""
    backbone = load_backbone(config.model_id, config.dtype)
    check_image_size(config.image_size, backbone.patch_size)
    return backbone


def extract_bank_features(
    backbone: Backbone,
    image_paths: Sequence[Path],
    config: ProjectConfig,
    progress: Progress = _no_progress,
) -> tuple[torch.Tensor, tuple[int, int]]:
    """Patch features of every training image (and its rotations): ((N, D) float32, patch grid)."""
    squares_per_image = ROTATION_COPIES[config.augment_rotations]
    total = len(image_paths)
    features: list[torch.Tensor] = []
    grid = (0, 0)
    for begin in range(0, total, config.batch_size):
        paths = image_paths[begin:begin + config.batch_size]
        squares = [
            rotated
            for path in paths
            for rotated in rotations(resize_square(load_image(path), config.image_size), config.augment_rotations)
        ]
        for first in range(0, len(squares), config.batch_size):
            batch = backbone.patch_features(to_batch(squares[first:first + config.batch_size]))
            grid = (batch.shape[1], batch.shape[2])
            features.append(batch.reshape(-1, batch.shape[-1]))
        done = begin + len(paths)
        rotated = f" (x{squares_per_image} rotations)" if squares_per_image > 1 else ""
        progress(done, total, f"features {done}/{total}{rotated}")
    return torch.cat(features), grid


def build_memory_bank(
    backbone: Backbone,
    image_paths: Sequence[Path],
    config: ProjectConfig,
    progress: Progress = _no_progress,
) -> MemoryBank:
    """Good images -> patch features -> optional random projection -> optional coreset."""
    if not image_paths:
        raise ProjectError("no good training images: add good images (train/good) before training")
    features, grid = extract_bank_features(backbone, image_paths, config, progress)
    matrix = None
    if config.feature_dim:
        if config.feature_dim >= backbone.hidden_size:
            raise DinoadError(
                f"feature_dim {config.feature_dim} must be smaller than the model's {backbone.hidden_size} "
                "feature dimensions (or 0 for no projection)"
            )
        matrix = projection_matrix(backbone.hidden_size, config.feature_dim, config.projection, config.projection_seed)
        features = project(features, matrix)
    before = features.shape[0]
    if config.coreset_method != "none":
        progress(len(image_paths), len(image_paths), f"coreset ({config.coreset_method}) of {before} patches")
    kept = select_coreset(features, config.coreset_method, config.coreset_ratio, config.coreset_seed)
    features = features[kept].contiguous()
    info = BankInfo(
        model_id=config.model_id,
        model_revision=backbone.revision,
        model_type=str(getattr(backbone.model.config, "model_type", "")),
        patch_size=backbone.patch_size,
        num_register_tokens=backbone.num_register_tokens,
        hidden_size=backbone.hidden_size,
        image_size=config.image_size,
        patch_grid=grid,
        feature_dim=int(features.shape[1]),
        settings=bank_settings(config),
        num_train_images=len(image_paths),
        num_patches_before_coreset=before,
        num_patches=int(features.shape[0]),
    )
    return MemoryBank(features, matrix, info)


class Inspector:
    """A trained project ready to score images: backbone + memory bank + settings."""

    def __init__(self, backbone: Backbone, bank: MemoryBank, config: ProjectConfig,
                 background: BackgroundDetector | None = None) -> None:
        if backbone.model_id != bank.info.model_id:
            raise DinoadError(f"backbone {backbone.model_id} does not match the bank's model {bank.info.model_id}")
        self.backbone = backbone
        self.bank = bank
        self.config = config
        self.index = KnnIndex(bank.features, config.metric, backbone.dtype, backbone.device)
        self.background = background  # measures object_fraction; decides NO PART with background_bank

    @classmethod
    def for_project(cls, project: Project, backbone: Backbone | None = None) -> Inspector:
        """Load a trained project; RetrainRequired when its settings changed since training."""
        config = project.load_config()
        bank = load_bank(project.results_dir)
        check_compatible(bank.info, config)
        backbone = backbone or load_project_backbone(config)
        background = None
        if config.background_method == "background_bank":
            saved = load_background_bank(project.results_dir, bank.version)
            if saved is not None:
                background = BackgroundDetector(saved, backbone.dtype, backbone.device)
        return cls(backbone, bank, config, background)

    @property
    def model_version(self) -> str:
        return self.bank.version

    def score(self, image: np.ndarray, channel_order: str = "RGB") -> ScoredImage:
        """Score one RGB (or BGR with ``channel_order``) image or frame at the training resolution."""
        return self.score_with_features(image, channel_order)[0]

    def score_with_features(self, image: np.ndarray, channel_order: str = "RGB") -> tuple[ScoredImage, torch.Tensor]:
        """``score`` plus the frame's (patches, D) features in the bank's space (for the background bank)."""
        timings: dict[str, float] = {}
        start = time.perf_counter()
        square = resize_square(frame_to_rgb(image, channel_order), self.config.image_size)
        pixels = to_batch([square])
        timings["preprocess"] = _lap(start)
        start = time.perf_counter()
        features = self.backbone.patch_features(pixels)[0]
        timings["features"] = _lap(start)
        start = time.perf_counter()
        grid = features.shape[:2]
        queries = project(features.reshape(-1, features.shape[-1]), self.bank.projection)
        patch_scores = self.index.distances(queries, self.config.knn_k).reshape(grid).cpu().numpy()
        timings["knn"] = _lap(start)
        object_fraction = None
        if self.background is not None:
            start = time.perf_counter()
            object_fraction = self.background.object_fraction(queries)
            timings["background"] = _lap(start)
        start = time.perf_counter()
        score = image_score(patch_scores, self.config.score_aggregation)
        heat = anomaly_map(patch_scores, self.config.image_size, self.config.sigma)
        # Training saves the interval only for score_interval; set by hand, it applies on its own too.
        interval = self.config.raw_ad_score_interval
        bank_decides = self.config.background_method == "background_bank"
        verdict = decide(score, self.config.threshold, tuple(interval) if interval else None,
                         object_fraction if bank_decides else None, self.config.min_object_fraction)
        timings["map"] = _lap(start)
        scored = ScoredImage(score, heat, patch_scores, timings, self.config.threshold, verdict, object_fraction)
        return scored, queries

    def score_file(self, path: Path) -> ScoredImage:
        return self.score(load_image(path))


def _lap(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


@dataclass
class Evaluation:
    """Scores of the project's test images per class, with the threshold-free image AUROC."""

    good_scores: list[float] = field(default_factory=list)
    good_names: list[str] = field(default_factory=list)
    defect_scores: list[float] = field(default_factory=list)
    defect_names: list[str] = field(default_factory=list)
    good_object_fractions: list[float | None] = field(default_factory=list)
    defect_object_fractions: list[float | None] = field(default_factory=list)
    pixel_auroc: float | None = None  # when test/defect masks exist (MVTec import)

    @property
    def image_auroc(self) -> float | None:
        """Probability that a defect outscores a good image; None without both classes."""
        if not self.good_scores or not self.defect_scores:
            return None
        from sklearn.metrics import roc_auc_score

        labels = [0] * len(self.good_scores) + [1] * len(self.defect_scores)
        return float(roc_auc_score(labels, self.good_scores + self.defect_scores))

    def to_dict(self) -> dict:
        return {
            "image_auroc": self.image_auroc,
            "good": dict(zip(self.good_names, self.good_scores, strict=True)),
            "defect": dict(zip(self.defect_names, self.defect_scores, strict=True)),
        }


def evaluate(project: Project, inspector: Inspector, progress: Progress = _no_progress) -> Evaluation:
    """Score every test/good and test/defect image of the project; pixel AUROC when masks exist."""
    goods = project.image_paths("test/good")
    defects = project.image_paths("test/defect")
    total = len(goods) + len(defects)
    result = Evaluation()
    masks = {path.name: project.masks_dir / path.name for path in defects}
    masks = {name: mask for name, mask in masks.items() if mask.is_file()}
    side = pixel_grid_size(inspector.config.image_size)
    pixel_maps: list[np.ndarray] = []
    pixel_masks: list[np.ndarray] = []
    for done, path in enumerate(goods + defects, start=1):
        scored = inspector.score_file(path)
        is_good = done <= len(goods)
        if is_good:
            result.good_scores.append(scored.score)
            result.good_names.append(path.name)
            result.good_object_fractions.append(scored.object_fraction)
        else:
            result.defect_scores.append(scored.score)
            result.defect_names.append(path.name)
            result.defect_object_fractions.append(scored.object_fraction)
        if masks and (is_good or path.name in masks):
            pixel_maps.append(prepare_map(scored.anomaly_map, side))
            truth = np.zeros((side, side), bool) if is_good else prepare_mask(load_image(masks[path.name]), side)
            pixel_masks.append(truth)
        progress(done, total, f"scoring test images {done}/{total}")
    result.pixel_auroc = pixel_auroc(pixel_maps, pixel_masks)
    return result


@dataclass
class TrainResult:
    bank: MemoryBank
    evaluation: Evaluation
    seconds: float
    validation: Validation | None = None  # threshold, metrics, no-part validation, report files


def train(project: Project, backbone: Backbone | None = None, progress: Progress = _no_progress,
          export_png: bool = True) -> TrainResult:
    """Build the memory bank from train/good, fit no-part detection on the background images,
    score the test images, calibrate the threshold, then save the bank, the validation report and
    threshold, metrics and no-part settings into config.json.

    Nothing is written until everything is computed, so a failure or a kill leaves the previous
    model usable. Holds the project lock: a second training of the same project is refused.
    """
    start = time.perf_counter()
    config = project.load_config()
    good = project.image_paths("train/good")
    if not good:
        raise ProjectError(f"project {project.name!r} has no good training images: add some to train/good first")
    if len(good) < config.shots:
        log.warning("only %d good training images, fewer than shots=%d", len(good), config.shots)
    with project_lock(project.results_dir, "training"):
        backbone = backbone or load_project_backbone(config)
        check_image_size(config.image_size, backbone.patch_size)
        bank, bank_bytes = encode_bank(build_memory_bank(backbone, good, config, progress))
        inspector = Inspector(backbone, bank, config)
        backgrounds = project.image_paths("background")
        progress(0, 1, f"background: fitting no-part detection on {len(backgrounds)} empty-scene image(s)")
        fit = fit_background(backgrounds, lambda path: _score_and_features(inspector, path), config, bank.version)
        if fit.bank is not None:  # measure object fractions of the test images for the no-part validation
            inspector.background = BackgroundDetector(fit.bank, backbone.dtype, backbone.device)
        evaluation = evaluate(project, inspector, progress)
        progress(0, 1, f"calibration: {config.threshold_method} threshold")
        validation = build_validation(evaluation, fit, config)
        for line in validation.statistics["notes"] + validation.warnings:
            log.warning("%s", line)
        progress(0, 1, "report: writing the bank, statistics, charts and config")
        write_bank(bank, bank_bytes, project.results_dir)
        clear_feedback_history(project)
        write_validation(project, validation, export_png)
        if validation.no_part is not None:
            save_no_part_model(validation.no_part, project.results_dir)
        save_to_config(project, validation)
    progress(1, 1, "report: done")
    return TrainResult(bank, evaluation, time.perf_counter() - start, validation)


def _score_and_features(inspector: Inspector, path: Path) -> tuple[float, torch.Tensor]:
    scored, queries = inspector.score_with_features(load_image(path))
    return scored.score, queries
