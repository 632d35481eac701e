"""Import images into a project from a zip archive: plain category folders or an MVTec AD category.

The archive is unpacked into a temporary folder with every member checked first: no absolute
paths, no ``..``, no links, and limits on count and unpacked size (zip bombs).
"""

from __future__ import annotations

import logging
import stat
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import numpy as np

from dinoad.errors import ImageError, ProjectError
from dinoad.images import SUPPORTED_EXTENSIONS, load_image
from dinoad.project import ImportReport, Project

log = logging.getLogger(__name__)

MAX_MEMBERS = 20_000
MAX_UNPACKED_BYTES = 4 * 1024**3
# A member that unpacks to more than this many times its packed size is refused as a bomb.
MAX_COMPRESSION_RATIO = 200

GOOD = "good"  # pseudo-category: good images split between train/good and test/good
# Folder names accepted in a plain archive, mapped to a project category.
FOLDER_ALIASES: dict[str, str] = {
    "background": "background",
    "empty": "background",
    "good": GOOD,
    "ok": GOOD,
    "train/good": "train/good",
    "test/good": "test/good",
    "test/defect": "test/defect",
    "defect": "test/defect",
    "bad": "test/defect",
    "nok": "test/defect",
}
PLAIN_LAYOUT_HINT = (
    "put images in folders named background, good, defect (or train/good, test/good, test/defect), "
    "or zip one MVTec AD category folder (train/good and test/<class>)"
)


def _safe_member_path(info: zipfile.ZipInfo) -> PurePosixPath | None:
    """The member's relative path, or None for directories; ProjectError for anything unsafe."""
    name = info.filename.replace("\\", "/")
    path = PurePosixPath(name)
    if name.startswith("/") or (path.parts and path.parts[0].endswith(":")) or ".." in path.parts:
        raise ProjectError(f"the zip holds an unsafe path {info.filename!r}; refusing to unpack it")
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise ProjectError(f"the zip holds a link {info.filename!r}; links are not allowed")
    if info.is_dir():
        return None
    return path


def safe_extract(archive: zipfile.ZipFile, target: Path) -> list[Path]:
    """Unpack every regular file of ``archive`` under ``target`` after checking all members."""
    members = archive.infolist()
    if len(members) > MAX_MEMBERS:
        raise ProjectError(f"the zip holds {len(members)} entries (limit {MAX_MEMBERS}); split it into smaller zips")
    total = sum(info.file_size for info in members)
    if total > MAX_UNPACKED_BYTES:
        raise ProjectError(
            f"the zip unpacks to {total / 1024**3:.1f} GiB (limit {MAX_UNPACKED_BYTES / 1024**3:.0f} GiB); "
            "split it into smaller zips"
        )
    planned = []
    for info in members:
        relative = _safe_member_path(info)
        if relative is None:
            continue
        if info.compress_size and info.file_size / info.compress_size > MAX_COMPRESSION_RATIO:
            raise ProjectError(f"{info.filename} is compressed suspiciously well (a zip bomb?); refusing it")
        planned.append((info, relative))
    root = target.resolve()
    written = []
    for info, relative in planned:
        destination = (root / Path(*relative.parts)).resolve()
        if not destination.is_relative_to(root):  # belt and braces after the checks above
            raise ProjectError(f"the zip holds an unsafe path {info.filename!r}; refusing to unpack it")
        destination.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(info) as source, open(destination, "wb") as sink:
            remaining = info.file_size
            while chunk := source.read(1024 * 1024):
                remaining -= len(chunk)
                if remaining < 0:  # the header lied about the size
                    raise ProjectError(f"{info.filename} is larger than its zip header says; refusing it")
                sink.write(chunk)
        written.append(destination)
    return written


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in SUPPORTED_EXTENSIONS and not path.name.startswith(".")


def _is_hidden(relative: Path) -> bool:
    """Dot files and macOS resource folders that zip tools add; not the user's files."""
    return any(part.startswith(".") or part == "__MACOSX" for part in relative.parts)


def find_mvtec_category(root: Path) -> Path | None:
    """The folder holding train/good and test/ (the root or one level below), if any."""
    for candidate in (root, *sorted(p for p in root.iterdir() if p.is_dir())):
        if (candidate / "train" / "good").is_dir() and (candidate / "test").is_dir():
            return candidate
    return None


def _strip_single_top_folder(root: Path) -> Path:
    """Archives made by zipping a folder wrap everything in it: look inside."""
    entries = [p for p in root.iterdir() if not p.name.startswith((".", "__MACOSX"))]
    if len(entries) == 1 and entries[0].is_dir() and entries[0].name.lower() not in FOLDER_ALIASES:
        return entries[0]
    return root


def category_of(relative: PurePosixPath) -> str | None:
    """The project category a file belongs to by its folder, or None when the folder is unknown."""
    folders = [part.lower() for part in relative.parts[:-1]]
    for length in (2, 1):
        if len(folders) >= length:
            key = "/".join(folders[:length])
            if key in FOLDER_ALIASES:
                return FOLDER_ALIASES[key]
    return None


def import_plain(project: Project, root: Path,
                 add_good: Callable[[np.ndarray], Path] | None = None) -> ImportReport:
    """Import images from category folders under ``root``; unknown folders are reported as rejected.

    ``add_good(rgb)`` saves an image of the ``good`` folder (the project's bank/test split);
    without it such images go to train/good.
    """
    report = ImportReport()
    root = _strip_single_top_folder(root)
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not _is_hidden(p.relative_to(root))):
        relative = PurePosixPath(path.relative_to(root).as_posix())
        if path.suffix.lower() == ".zip":
            report.rejected.append((str(relative), "a zip inside the zip is not unpacked: unzip it and upload "
                                                   "its contents, or upload it on its own"))
            continue
        if not _is_image(path):
            report.rejected.append((str(relative), f"not an image file ({', '.join(SUPPORTED_EXTENSIONS)})"))
            continue
        category = category_of(relative)
        if category is None:
            report.rejected.append((str(relative), f"not in a known folder: {PLAIN_LAYOUT_HINT}"))
            continue
        try:
            rgb = load_image(path)
        except ImageError as exc:
            report.rejected.append((str(relative), str(exc)))
            continue
        if category == GOOD:
            report.added.append(add_good(rgb) if add_good is not None else project.add_image("train/good", rgb))
        else:
            report.added.append(project.add_image(category, rgb))
    return report


def import_zip(project: Project, source: Path | BinaryIO, shots: int | None = None,
               add_good: Callable[[np.ndarray], Path] | None = None) -> ImportReport:
    """Import a zip (a path or an open binary file) into ``project``.

    An MVTec AD category goes through :meth:`Project.import_mvtec` with ``shots`` training images;
    anything else is read as plain category folders (see :data:`FOLDER_ALIASES`).
    """
    try:
        archive = zipfile.ZipFile(source)
    except zipfile.BadZipFile as exc:
        raise ProjectError(f"the upload is not a valid zip file ({exc}); zip the folders again") from exc
    with archive, tempfile.TemporaryDirectory(prefix="dinoad-zip-") as folder:
        root = Path(folder)
        safe_extract(archive, root)
        mvtec = find_mvtec_category(root)
        if mvtec is not None:
            log.info("importing MVTec AD category %s into %s", mvtec.name, project.name)
            return project.import_mvtec(mvtec, shots=shots)
        if not any(_is_image(path) for path in root.rglob("*")):
            raise ProjectError(f"the zip holds no images; {PLAIN_LAYOUT_HINT}")
        return import_plain(project, root, add_good)

