"""The local artifact repository: writing, listing, downloading, and paths confined to the root."""

from __future__ import annotations

import os

import pytest

from tureen.artifacts import get_artifact_repository
from tureen.artifacts.local import LocalArtifactRepository
from tureen.exceptions import InvalidParameterError, ResourceNotFoundError


@pytest.fixture
def repo(tmp_path):
    return get_artifact_repository((tmp_path / "root").as_uri())


@pytest.mark.parametrize("bad", ["../x.txt", "a/../../x.txt", "/etc/passwd", "a/\x00b", "..", "C:/x"])
def test_escaping_paths_are_refused(repo, tmp_path, bad):
    with pytest.raises(InvalidParameterError):
        repo.log_text("x", bad)
    with pytest.raises(InvalidParameterError):
        repo.download_artifacts(bad, str(tmp_path / "dl"))
    with pytest.raises(InvalidParameterError):
        repo.list_artifacts(bad)
    assert not (tmp_path / "x.txt").exists()


def test_symlinks_leading_outside_are_refused(repo, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    repo.log_text("ok", "in/ok.txt")
    os.symlink(outside, repo.root / "link")
    with pytest.raises(InvalidParameterError, match="outside"):
        repo.log_text("x", "link/evil.txt")
    with pytest.raises(InvalidParameterError, match="outside"):
        repo.download_artifacts("link/secret.txt", str(tmp_path / "dl"))
    assert [f.path for f in repo.list_artifacts()] == ["in"]  # the link is not listed
    assert not (outside / "evil.txt").exists()
    # logging a source directory that holds a link leading outside it is refused too
    src = tmp_path / "src"
    src.mkdir()
    os.symlink(outside / "secret.txt", src / "leak.txt")
    with pytest.raises(InvalidParameterError, match="symbolic link"):
        repo.log_artifacts(src, "copy")
    assert not (repo.root / "copy" / "leak.txt").exists()


def test_round_trip_and_listing(repo, tmp_path):
    repo.log_bytes(b"\x00\x01", "bin/data.bin")
    repo.log_dict({"k": [1, 2]}, "c.json")
    files = {f.path: (f.is_dir, f.file_size) for f in repo.list_artifacts()}
    assert files == {"bin": (True, None), "c.json": (False, len('{\n  "k": [\n    1,\n    2\n  ]\n}'))}
    out = repo.download_artifacts("bin/data.bin", str(tmp_path / "dl"))
    assert open(out, "rb").read() == b"\x00\x01"
    assert repo.list_artifacts("nothing-here") == []
    with pytest.raises(ResourceNotFoundError):
        repo.download_artifacts("missing.txt")
    with pytest.raises(ResourceNotFoundError):
        repo.log_artifact(tmp_path / "missing.txt")


def test_publish_directory_is_all_or_nothing(tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "f.txt").write_text("f")
    repo = LocalArtifactRepository(str(tmp_path / "models" / "m-1" / "artifacts"))
    repo.publish_directory(src)
    assert (repo.root / "sub" / "f.txt").read_text() == "f"
    with pytest.raises(InvalidParameterError, match="already exists"):
        repo.publish_directory(src)
    assert [p.name for p in repo.root.parent.iterdir()] == ["artifacts"]  # no temp dirs left


def test_unknown_scheme(tmp_path):
    with pytest.raises(InvalidParameterError, match="gs"):
        get_artifact_repository("gs://bucket/x")
