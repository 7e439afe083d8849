"""Projects from git: file:// repositories at a commit, branch or tag, with #subdir; what is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

import tureen
from tureen import projects
from tureen.exceptions import ProjectError


def _word(out_dir: Path, name: str) -> str:
    return (out_dir / name).read_text()


@pytest.mark.parametrize("version, word, commit_key, branch", [
    (None, "two", "second", None),
    ("v1", "one", "first", None),
    ("feature", "three", "third", "feature"),
    ("first", "one", "first", None),  # a commit id (filled in below)
])
def test_file_repo_at_a_version_with_a_subdirectory(git_repo, tracking, tmp_path, version, word, commit_key,
                                                    branch):
    if version == "first":
        version = git_repo["first"]
    out = tmp_path / "greeting.txt"
    uri = f"file://{git_repo['path']}#sub/proj"
    submitted = projects.run(uri, version=version, parameters={"out": str(out)})
    assert out.read_text() == word
    tags = tureen.get_run(submitted.run_id).data.tags
    assert tags["mlflow.source.git.commit"] == git_repo[commit_key]
    assert tags["mlflow.gitRepoURL"] == tags["mlflow.source.git.repoURL"] == f"file://{git_repo['path']}"
    assert tags["mlflow.source.name"] == uri
    assert tags.get("mlflow.source.git.branch") == branch


def test_a_local_checkout_records_its_commit(git_repo, tracking, tmp_path):
    out = tmp_path / "g.txt"
    submitted = projects.run(f"{git_repo['path']}#sub/proj", parameters={"out": str(out)})
    assert tureen.get_run(submitted.run_id).data.tags["mlflow.source.git.commit"] == git_repo["second"]
    # a version on a local repository checks out a clean clone, leaving the working tree alone
    projects.run(f"{git_repo['path']}#sub/proj", version="v1", parameters={"out": str(out)})
    assert out.read_text() == "one"
    assert "two" in (Path(git_repo["path"]) / "sub/proj/greet.py").read_text()


@pytest.mark.parametrize("uri, version, fragment", [
    ("ext::sh -c touch% /tmp/tureen-ext-pwned", None, "Unsupported project URI"),
    ("fd::3", None, "Unsupported project URI"),
    ("file:///nonexistent/repo", None, "git clone"),
    ("{repo}#../..", None, "subdirectory"),
    ("{repo}#sub/nope", None, "does not exist"),
    ("{repo}#sub/proj", "no-such-tag", "not a commit, branch or tag"),
    ("{repo}#sub/proj", "--upload-pack=touch /tmp/x", "not a git commit"),
    ("/nonexistent/dir", None, "does not exist"),
])
def test_bad_sources_are_typed_errors(git_repo, tracking, uri, version, fragment):
    uri = uri.replace("{repo}", f"file://{git_repo['path']}")
    with pytest.raises(ProjectError, match=fragment):
        projects.run(uri, version=version)
    assert not Path("/tmp/tureen-ext-pwned").exists()
    assert tureen.search_runs(output_format="list") == []
