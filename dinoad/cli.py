"""Command line: ``python -m dinoad COMMAND``; see ``python -m dinoad --help`` for the commands."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from dinoad import __version__
from dinoad.config import (
    CORESET_METHODS,
    DEFAULT_MODEL_ID,
    METRICS,
    SCORE_AGGREGATIONS,
    ProjectConfig,
)
from dinoad.errors import DinoadError
from dinoad.project import CATEGORIES, ProjectStore

log = logging.getLogger("dinoad")


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--projects", type=Path, default=argparse.SUPPRESS,
                        help="projects folder (default: $DINOAD_PROJECTS or ./projects)")
    parser = argparse.ArgumentParser(prog="python -m dinoad", parents=[common],
                                     description="Few-shot visual inspection with DINOv3 patch features.")
    parser.add_argument("--version", action="version", version=f"dinoad {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    create = sub.add_parser("create", parents=[common], help="create a project")
    create.add_argument("name")
    create.add_argument("--model", default=DEFAULT_MODEL_ID, help="HuggingFace model id or local model folder")
    create.add_argument("--image-size", type=int, default=ProjectConfig.image_size)
    create.add_argument("--shots", type=int, default=ProjectConfig.shots)
    create.add_argument("--knn-k", type=int, default=ProjectConfig.knn_k)
    create.add_argument("--metric", choices=METRICS, default=ProjectConfig.metric)
    create.add_argument("--coreset", choices=CORESET_METHODS, default=ProjectConfig.coreset_method)
    create.add_argument("--coreset-ratio", type=float, default=ProjectConfig.coreset_ratio)
    create.add_argument("--feature-dim", type=int, default=ProjectConfig.feature_dim, help="0 = no projection")
    create.add_argument("--score", choices=SCORE_AGGREGATIONS, default=ProjectConfig.score_aggregation)
    create.add_argument("--dtype", default=ProjectConfig.dtype, help="auto, float32, bfloat16 or float16")
    create.add_argument("--json", action="store_true")

    imp = sub.add_parser("import", parents=[common], help="import image files into a category")
    imp.add_argument("name")
    imp.add_argument("--category", required=True, choices=CATEGORIES)
    imp.add_argument("paths", nargs="+", type=Path)
    imp.add_argument("--json", action="store_true")

    mvtec = sub.add_parser("import-mvtec", parents=[common], help="import an MVTec AD category folder")
    mvtec.add_argument("name")
    mvtec.add_argument("category_dir", type=Path)
    mvtec.add_argument("--all-train", action="store_true",
                       help="import every train/good image instead of the project's `shots`")
    mvtec.add_argument("--json", action="store_true")

    for command, text in (("train", "build the memory bank and score the test images"),
                          ("evaluate", "score test/good and test/defect")):
        cmd = sub.add_parser(command, parents=[common], help=text)
        cmd.add_argument("name")
        cmd.add_argument("--json", action="store_true")

    predict = sub.add_parser("predict", parents=[common], help="score image files")
    predict.add_argument("name")
    predict.add_argument("images", nargs="+", type=Path)
    predict.add_argument("--heatmap-dir", type=Path, help="write a heatmap overlay PNG per image here")
    predict.add_argument("--json", action="store_true")

    listing = sub.add_parser("list", parents=[common], help="list projects")
    listing.add_argument("--json", action="store_true")

    watch = sub.add_parser("watch", parents=[common], help="inspect frames headless, one JSON line per frame")
    watch.add_argument("name")
    source = watch.add_mutually_exclusive_group(required=True)
    source.add_argument("--camera", type=int, metavar="INDEX", help="OpenCV camera index")
    source.add_argument("--folder", type=Path, help="folder of image files, inspected in name order")
    source.add_argument("--video", type=Path, help="video file")
    watch.add_argument("--max-frames", type=int, help="stop after this many frames")
    watch.add_argument("--json", action="store_true")

    demo = sub.add_parser("demo", parents=[common], help="create the synthetic demo project (no camera needed)")
    demo.add_argument("name")
    demo.add_argument("--model", help="model id or local folder (default: the project default)")
    demo.add_argument("--json", action="store_true")

    sub.add_parser("hash-password", parents=[common],
                   help="print a password hash for .streamlit/secrets.toml (optional dashboard login)")

    doctor = sub.add_parser("doctor", parents=[common], help="check that the configured model can be loaded")
    doctor.add_argument("name", nargs="?", help="project whose model to check (default: --model)")
    doctor.add_argument("--model", help=f"model id or local folder (default: {DEFAULT_MODEL_ID})")
    doctor.add_argument("--json", action="store_true")
    return parser


def _print(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=2) if getattr(args, "json", False) else text)


def _cmd_create(args: argparse.Namespace, store: ProjectStore) -> int:
    config = ProjectConfig(
        model_id=args.model, image_size=args.image_size, shots=args.shots, knn_k=args.knn_k,
        metric=args.metric, coreset_method=args.coreset, coreset_ratio=args.coreset_ratio,
        feature_dim=args.feature_dim, score_aggregation=args.score, dtype=args.dtype,
    )
    project = store.create(args.name, config)
    _print(args, {"name": project.name, "path": str(project.path), "config": config.to_dict()},
           f"created project {project.name!r} in {project.path}")
    return 0


def _report_import(args: argparse.Namespace, report) -> int:
    data = {"added": [str(p) for p in report.added],
            "rejected": [{"path": p, "reason": r} for p, r in report.rejected],
            "skipped": report.skipped}
    lines = [f"imported {len(report.added)} image(s)"]
    if report.skipped:
        lines.append(f"skipped {len(report.skipped)} train image(s) beyond the project's shots")
    lines += [f"rejected {path}: {reason}" for path, reason in report.rejected]
    _print(args, data, "\n".join(lines))
    return 1 if report.rejected else 0


def _cmd_import(args: argparse.Namespace, store: ProjectStore) -> int:
    project = store.open(args.name)
    return _report_import(args, project.import_files(args.category, args.paths))


def _cmd_import_mvtec(args: argparse.Namespace, store: ProjectStore) -> int:
    project = store.open(args.name)
    shots = None if args.all_train else project.load_config().shots
    return _report_import(args, project.import_mvtec(args.category_dir, shots))


def _tqdm_progress(description: str):
    from tqdm import tqdm

    bar = tqdm(desc=description, file=sys.stderr, unit="img", leave=False)

    def update(done: int, total: int, message: str) -> None:
        bar.total = total
        bar.n = done
        bar.set_postfix_str(message, refresh=False)
        bar.refresh()

    return bar, update


def _cmd_train(args: argparse.Namespace, store: ProjectStore) -> int:
    from dinoad.pipeline import train

    project = store.open(args.name)
    bar, progress = _tqdm_progress("train")
    with bar:
        result = train(project, progress=progress)
    info = result.bank.info
    validation = result.validation
    data = {"model_version": result.bank.version, "bank_patches": info.num_patches,
            "train_images": info.num_train_images, "seconds": round(result.seconds, 2),
            "evaluation": result.evaluation.to_dict(),
            "statistics": validation.statistics if validation else None,
            "report": str(validation.files[-1]) if validation and validation.files else None}
    auroc = result.evaluation.image_auroc
    threshold = validation.threshold if validation else None
    lines = [f"trained {project.name!r}: {info.num_patches} patches from {info.num_train_images} images "
             f"in {result.seconds:.1f} s, model version {result.bank.version}"
             + (f", image AUROC {auroc:.3f}" if auroc is not None else "")
             + (f", threshold {threshold:.4f}" if threshold is not None else ", no threshold")]
    if validation:
        lines += [f"warning: {line}" for line in validation.warnings]
        lines += [f"report: {validation.files[-1]}"] if validation.files else []
    _print(args, data, "\n".join(lines))
    return 0


def _cmd_evaluate(args: argparse.Namespace, store: ProjectStore) -> int:
    from dinoad.pipeline import Inspector, evaluate
    from dinoad.report import current_statistics

    project = store.open(args.name)
    inspector = Inspector.for_project(project)
    evaluation = evaluate(project, inspector)
    statistics = current_statistics(evaluation, inspector.config)
    metrics = statistics["metrics"]
    auroc = evaluation.image_auroc
    rows = [("good", evaluation.good_names, evaluation.good_scores),
            ("defect", evaluation.defect_names, evaluation.defect_scores)]
    lines = [f"{name}\t{label}\t{score:.4f}" for label, names, scores in rows
             for name, score in zip(names, scores, strict=True)]
    lines.append("image AUROC: " + (f"{auroc:.4f}" if auroc is not None
                                    else "n/a (needs test/good and test/defect images)"))
    for name in ("average_precision", "pixel_auroc"):
        if metrics[name] is not None:
            lines.append(f"{name.replace('_', ' ')}: {metrics[name]:.4f}")
    at = metrics["at_threshold"]
    if at is None:
        lines.append("no threshold yet: train the project (or set one on the Validation page)")
    else:
        lines.append(f"threshold {at['threshold']:.4f}: " + ", ".join(f"{k}={v}" for k, v in at["counts"].items()))
        lines += [f"{rate}: {at[rate]['value']:.3f} (95 % CI {at[rate]['low']:.3f}-{at[rate]['high']:.3f})"
                  for rate in ("accuracy", "precision", "recall", "fpr", "fnr") if at[rate]["value"] is not None]
    lines += [f"warning: {line}" for line in statistics["warnings"]]
    _print(args, {**evaluation.to_dict(), **statistics}, "\n".join(lines))
    return 0


def _cmd_predict(args: argparse.Namespace, store: ProjectStore) -> int:
    from dinoad.images import load_image, save_png
    from dinoad.overlay import colour_scale_max, heatmap_overlay
    from dinoad.pipeline import Inspector

    inspector = Inspector.for_project(store.open(args.name))
    results, lines, failed = [], [], False
    for path in args.images:
        try:
            rgb = load_image(path)
        except DinoadError as exc:
            failed = True
            results.append({"image": str(path), "error": str(exc)})
            lines.append(f"{path}\terror: {exc}")
            continue
        scored = inspector.score(rgb)
        entry = {"image": str(path), "score": scored.score, "threshold": scored.threshold,
                 "verdict": None if scored.verdict is None else str(scored.verdict),
                 "latency_ms": round(scored.total_ms, 1), "model_version": inspector.model_version}
        if args.heatmap_dir:
            target = args.heatmap_dir / f"{path.stem}_heatmap.png"
            scale = colour_scale_max(scored.threshold, scored.anomaly_map)
            save_png(target, heatmap_overlay(rgb, scored.anomaly_map, scale, scored.threshold))
            entry["heatmap"] = str(target)
        results.append(entry)
        lines.append(f"{path}\t{scored.score:.4f}\t{entry['verdict'] or 'no threshold yet'}")
    _print(args, results, "\n".join(lines))
    return 1 if failed else 0


def _cmd_list(args: argparse.Namespace, store: ProjectStore) -> int:
    from dinoad.project_status import project_status

    statuses = [project_status(store.open(name)) for name in store.names()]
    data = [{"name": s.name, "counts": s.counts, "trained": s.trained, "model_version": s.model_version,
             "threshold": s.config.threshold if s.config else None,
             "model_id": s.config.model_id if s.config else None, "image_auroc": s.image_auroc,
             "retrain_required": s.retrain_reasons, "error": s.error} for s in statuses]
    lines = [
        f"{s.name}\t{'trained' if s.trained else 'not trained'}"
        + (" (retrain required)" if s.retrain_reasons else "") + "\t"
        + " ".join(f"{category}={count}" for category, count in s.counts.items())
        + (f"\terror: {s.error}" if s.error else "")
        for s in statuses
    ] or [f"no projects in {store.root}"]
    _print(args, data, "\n".join(lines))
    return 0


def _cmd_watch(args: argparse.Namespace, store: ProjectStore) -> int:
    from dinoad.inspection_log import InspectionLog
    from dinoad.live import FrameProcessor
    from dinoad.pipeline import Inspector
    from dinoad.sources import camera_frames, folder_frames, video_frames

    project = store.open(args.name)
    processor = FrameProcessor(Inspector.for_project(project), InspectionLog(project.results_dir))
    if args.camera is not None:
        frames = camera_frames(args.camera)
    elif args.folder is not None:
        frames = folder_frames(args.folder)
    else:
        frames = video_frames(args.video)
    count = 0
    try:
        for name, rgb in frames:
            scored, _ = processor.process(rgb)
            count += 1
            verdict = str(scored.verdict) if scored.verdict is not None else None
            line = {"frame": name, "verdict": verdict, "score": round(scored.score, 6),
                    "threshold": scored.threshold, "latency_ms": round(scored.total_ms, 1)}
            if processor.log.last_error:
                line["log_error"] = processor.log.last_error
            print(json.dumps(line) if args.json else f"{name}\t{verdict or 'UNCALIBRATED'}\t{scored.score:.4f}\t"
                  f"{scored.total_ms:.0f} ms", flush=True)
            if args.max_frames is not None and count >= args.max_frames:
                break
    except KeyboardInterrupt:
        pass
    return 0


def _cmd_demo(args: argparse.Namespace, store: ProjectStore) -> int:
    from dinoad.demo_project import create_demo_project

    project = create_demo_project(store, args.name, args.model)
    _print(args, {"name": project.name, "path": str(project.path), "counts": project.counts()},
           f"created demo project {project.name!r} in {project.path}: "
           + ", ".join(f"{count} {category}" for category, count in project.counts().items())
           + f"; next: python -m dinoad train {project.name!r}")
    return 0


def _cmd_doctor(args: argparse.Namespace, store: ProjectStore) -> int:
    from dinoad.doctor import diagnose, format_report

    config = store.open(args.name).load_config() if args.name else ProjectConfig()
    report = diagnose(args.model or config.model_id, config.dtype, config.image_size)
    _print(args, report.to_dict(), format_report(report))
    return 0 if report.ok else 1


def _cmd_hash_password(args: argparse.Namespace, store: ProjectStore) -> int:
    import getpass

    from dinoad.auth import hash_password

    password = getpass.getpass("Dashboard password: ")
    if getpass.getpass("Repeat it: ") != password:
        print("error: the two passwords differ; nothing was written", file=sys.stderr)
        return 1
    try:
        hashed = hash_password(password)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("Add these lines to .streamlit/secrets.toml (keep that file private):")
    print("[login]")
    print(f'password_hash = "{hashed}"')
    return 0


COMMANDS = {
    "create": _cmd_create, "import": _cmd_import, "import-mvtec": _cmd_import_mvtec, "train": _cmd_train,
    "evaluate": _cmd_evaluate, "predict": _cmd_predict, "list": _cmd_list, "watch": _cmd_watch,
    "demo": _cmd_demo, "doctor": _cmd_doctor, "hash-password": _cmd_hash_password,
}


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit code (0 success, 1 error with a one-line reason)."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    store = ProjectStore(getattr(args, "projects", None))
    try:
        return COMMANDS[args.command](args, store)
    except DinoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 1
