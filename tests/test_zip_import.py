import io
import stat
import zipfile

import pytest

from dinoad.demo import generate_scene
from dinoad.errors import ProjectError
from dinoad.images import encode_png
from dinoad.zip_import import category_of, import_zip, safe_extract


def png(kind: str, index: int) -> bytes:
    return encode_png(generate_scene(kind, index)[0])


def make_zip(entries: dict[str, bytes]) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    buffer.seek(0)
    return buffer


def test_plain_folders_go_to_their_categories(store):
    project = store.create("zipped")
    upload = make_zip({
        "capture/background/a.png": png("background", 0),
        "capture/good/a.png": png("good", 0),
        "capture/good/b.png": png("good", 1),
        "capture/test/good/c.png": png("good", 2),
        "capture/defect/d.png": png("spot", 0),
        "capture/notes/readme.png": png("good", 3),
        "capture/defect/broken.png": b"not an image",
    })
    good_saved = []

    def add_good(rgb):
        path = project.add_image("train/good", rgb)
        good_saved.append(path)
        return path

    report = import_zip(project, upload, add_good=add_good)
    assert project.counts() == {"background": 1, "train/good": 2, "test/good": 1, "test/defect": 1}
    assert len(good_saved) == 2
    assert len(report.added) == 5
    rejected = dict(report.rejected)
    assert "known folder" in rejected["notes/readme.png"]
    assert "broken.png" in " ".join(rejected)


def test_mvtec_category_uses_the_shots(store):
    project = store.create("mvtec")
    entries = {f"bottle/train/good/{i:03d}.png": png("good", i) for i in range(6)}
    entries["bottle/test/good/000.png"] = png("good", 50)
    entries["bottle/test/crack/000.png"] = png("crack", 0)
    entries["bottle/ground_truth/crack/000_mask.png"] = encode_png(
        generate_scene("crack", 0)[1][..., None].repeat(3, axis=2) * 255)
    report = import_zip(project, make_zip(entries), shots=3)
    assert project.counts() == {"background": 0, "train/good": 3, "test/good": 1, "test/defect": 1}
    assert len(report.skipped) == 3
    assert (project.masks_dir / "001.png").is_file()


@pytest.mark.parametrize("name", ["../evil.png", "good/../../evil.png", "/abs/evil.png", "C:/evil.png"])
def test_paths_leaving_the_folder_are_refused(tmp_path, name):
    upload = make_zip({name: png("good", 0)})
    with zipfile.ZipFile(upload) as archive, pytest.raises(ProjectError, match="unsafe path"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "evil.png").exists()


def test_links_are_refused(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("good/link.png")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "/etc/passwd")
    with zipfile.ZipFile(buffer) as archive, pytest.raises(ProjectError, match="link"):
        safe_extract(archive, tmp_path)


def test_zip_bombs_are_refused(tmp_path):
    upload = make_zip({"good/bomb.png": b"\0" * (5 * 1024 * 1024)})
    with zipfile.ZipFile(upload) as archive, pytest.raises(ProjectError, match="bomb"):
        safe_extract(archive, tmp_path)


def test_not_a_zip_and_empty_zip_say_what_to_do(store):
    project = store.create("bad")
    with pytest.raises(ProjectError, match="not a valid zip"):
        import_zip(project, io.BytesIO(b"plain text"))
    with pytest.raises(ProjectError, match="no images"):
        import_zip(project, make_zip({"readme.txt": b"hello"}))


def test_folder_names_map_to_categories():
    from pathlib import PurePosixPath

    assert category_of(PurePosixPath("Good/x.png")) == "good"
    assert category_of(PurePosixPath("test/defect/x.png")) == "test/defect"
    assert category_of(PurePosixPath("bad/sub/x.png")) == "test/defect"
    assert category_of(PurePosixPath("x.png")) is None
