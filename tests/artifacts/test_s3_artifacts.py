"""The S3 artifact repository against moto's standalone server (a real S3-protocol server process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tureen.artifacts import get_artifact_repository
from tureen.artifacts.s3 import S3ArtifactRepository, parse_s3_uri
from tureen.exceptions import InvalidParameterError, ResourceNotFoundError, StoreUnavailableError, TureenError


def _boto(moto_s3):
    import boto3

    return boto3.client("s3", endpoint_url=moto_s3["endpoint"], region_name="us-east-1")


@pytest.fixture
def repo(s3_env):
    return get_artifact_repository(f"s3://{s3_env}/exp/1/run/artifacts")


def test_scheme_is_registered(s3_env):
    repo = get_artifact_repository(f"s3://{s3_env}/a/b/")
    assert isinstance(repo, S3ArtifactRepository)
    assert (repo.bucket, repo.prefix, repo.root_uri) == (s3_env, "a/b", f"s3://{s3_env}/a/b")


@pytest.mark.parametrize("bad", ["s3:///no-bucket", "s3://b/../x", "s3://b/a?x=1", "gs://b/x"])
def test_bad_uris_are_refused(bad):
    with pytest.raises(InvalidParameterError):
        parse_s3_uri(bad)


def test_round_trip_files_and_directories(repo, tmp_path, moto_s3, s3_env):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("alpha")
    (src / "sub" / "b.bin").write_bytes(b"\x00\x01" * 1000)
    repo.log_artifacts(src, "data")
    repo.log_artifact(src / "a.txt")
    repo.log_text("hi", "notes/readme.txt")
    repo.log_dict({"k": [1, 2]}, "notes/conf.json")
    repo.log_dict({"k": 1}, "notes/conf.yaml")

    top = repo.list_artifacts()
    assert [(f.path, f.is_dir, f.file_size) for f in top] == [
        ("a.txt", False, 5), ("data", True, None), ("notes", True, None)]
    assert [f.path for f in repo.list_artifacts("data")] == ["data/a.txt", "data/sub"]
    assert [(f.path, f.file_size) for f in repo.list_artifacts("data/sub")] == [("data/sub/b.bin", 2000)]
    assert repo.list_artifacts("nothing/here") == []

    one = Path(repo.download_artifacts("notes/conf.json", tmp_path / "dl1"))
    assert one == tmp_path / "dl1" / "conf.json" and json.loads(one.read_text()) == {"k": [1, 2]}
    whole = Path(repo.download_artifacts("data", tmp_path / "dl2"))
    assert (whole / "a.txt").read_text() == "alpha"
    assert (whole / "sub" / "b.bin").read_bytes() == b"\x00\x01" * 1000
    everything = Path(repo.download_artifacts("", tmp_path / "dl3"))
    assert sorted(p.relative_to(everything).as_posix() for p in everything.rglob("*") if p.is_file()) == [
        "a.txt", "data/a.txt", "data/sub/b.bin", "notes/conf.json", "notes/conf.yaml", "notes/readme.txt"]
    assert b"".join(repo.open_stream("data/sub/b.bin")) == b"\x00\x01" * 1000
    assert repo.file_size("a.txt") == 5
    # the keys are where MLflow's S3 repository puts them
    keys = sorted(o["Key"] for o in _boto(moto_s3).list_objects_v2(Bucket=s3_env)["Contents"])
    assert "exp/1/run/artifacts/data/sub/b.bin" in keys

    repo.delete_artifacts("data")
    assert [f.path for f in repo.list_artifacts()] == ["a.txt", "notes"]
    repo.delete_artifacts()
    assert repo.list_artifacts() == []
    with pytest.raises(ResourceNotFoundError):
        repo.download_artifacts("notes", tmp_path / "dl4")


@pytest.mark.parametrize("bad", ["../x.txt", "a/../../x.txt", "/etc/passwd", "a/\x00b", "..", "C:/x"])
def test_escaping_paths_are_refused(repo, tmp_path, bad, moto_s3, s3_env):
    with pytest.raises(InvalidParameterError):
        repo.log_text("x", bad)
    with pytest.raises(InvalidParameterError):
        repo.download_artifacts(bad, tmp_path / "dl")
    with pytest.raises(InvalidParameterError):
        repo.list_artifacts(bad)
    with pytest.raises(InvalidParameterError):
        repo.open_stream(bad)
    with pytest.raises(InvalidParameterError):
        repo.delete_artifacts(bad)
    assert "Contents" not in _boto(moto_s3).list_objects_v2(Bucket=s3_env)


@pytest.mark.parametrize("evil", ["../../escape.txt", "a/../../../escape.txt", "a//b.txt", "./x.txt"])
def test_hostile_keys_in_the_bucket_are_not_written_outside(repo, tmp_path, moto_s3, s3_env, evil):
    """A key put into the bucket by another tool cannot make a download write outside its target."""
    _boto(moto_s3).put_object(Bucket=s3_env, Key=f"exp/1/run/artifacts/{evil}", Body=b"pwned")
    repo.log_text("fine", "ok.txt")
    dst = tmp_path / "deep" / "dl"
    with pytest.raises(InvalidParameterError, match="Refusing S3 key|not allowed|not a normalized"):
        repo.download_artifacts("", dst)
    assert not any(p.name == "escape.txt" or p.read_bytes() == b"pwned"
                   for p in tmp_path.rglob("*") if p.is_file())


def test_symlink_leading_outside_is_refused(repo, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    src = tmp_path / "src"
    src.mkdir()
    (src / "ok.txt").write_text("ok")
    os.symlink(outside, src / "link")
    with pytest.raises(InvalidParameterError, match="outside"):
        repo.log_artifacts(src)
    assert repo.list_artifacts() == []


def test_publish_directory_refuses_existing_root_and_cleans_up(repo, tmp_path):
    src = tmp_path / "model"
    src.mkdir()
    (src / "MLmodel").write_text("flavors: {}\n")
    repo.publish_directory(src)
    assert [f.path for f in repo.list_artifacts()] == ["MLmodel"]
    with pytest.raises(InvalidParameterError, match="already exists"):
        repo.publish_directory(src)


def test_upload_extra_args_and_bad_settings(repo, monkeypatch, moto_s3, s3_env):
    monkeypatch.setenv("MLFLOW_S3_UPLOAD_EXTRA_ARGS", json.dumps({"Metadata": {"team": "churn"},
                                                                   "ContentType": "text/x-test"}))
    repo.log_text("x", "m.txt")
    head = _boto(moto_s3).head_object(Bucket=s3_env, Key="exp/1/run/artifacts/m.txt")
    assert head["Metadata"] == {"team": "churn"} and head["ContentType"] == "text/x-test"
    monkeypatch.setenv("MLFLOW_S3_UPLOAD_EXTRA_ARGS", "{not json")
    with pytest.raises(InvalidParameterError, match="MLFLOW_S3_UPLOAD_EXTRA_ARGS"):
        repo.log_text("x", "n.txt")
    monkeypatch.setenv("MLFLOW_S3_UPLOAD_EXTRA_ARGS", "[1]")
    with pytest.raises(InvalidParameterError, match="JSON object"):
        repo.log_text("x", "n.txt")
    monkeypatch.delenv("MLFLOW_S3_UPLOAD_EXTRA_ARGS")
    monkeypatch.setenv("MLFLOW_S3_IGNORE_TLS", "perhaps")
    with pytest.raises(InvalidParameterError, match="MLFLOW_S3_IGNORE_TLS"):
        repo.list_artifacts()
    monkeypatch.setenv("MLFLOW_S3_IGNORE_TLS", "true")
    assert [f.path for f in repo.list_artifacts()] == ["m.txt"]
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", "1024")
    with pytest.raises(InvalidParameterError, match="5 MiB"):
        repo.log_text("x", "n.txt")


def test_missing_bucket_and_unreachable_endpoint_are_typed(s3_env, monkeypatch, tmp_path):
    missing = get_artifact_repository("s3://no-such-bucket-tureen/x")
    with pytest.raises(ResourceNotFoundError, match="NoSuchBucket"):
        missing.log_text("x", "a.txt")
    with pytest.raises(ResourceNotFoundError):
        missing.list_artifacts()
    repo = get_artifact_repository(f"s3://{s3_env}/x")
    with pytest.raises(ResourceNotFoundError):
        repo.open_stream("absent.txt")
    with pytest.raises(ResourceNotFoundError):
        repo.download_artifacts("absent.txt", tmp_path)
    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(StoreUnavailableError):
        repo.list_artifacts()
    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", os.environ["MLFLOW_S3_ENDPOINT_URL"])


def test_wrong_credentials_are_permission_denied(s3_env, monkeypatch):
    # moto accepts any key unless told otherwise; an unsigned-for-this-bucket error still must be typed
    repo = get_artifact_repository(f"s3://{s3_env}/x")
    monkeypatch.setenv("MLFLOW_S3_UPLOAD_EXTRA_ARGS", json.dumps({"ACL": "not-an-acl"}))
    with pytest.raises(TureenError) as info:
        repo.log_text("x", "a.txt")
    assert info.value.http_status in (400, 403, 503) and "S3 answered" in info.value.message


def test_large_file_is_multipart(repo, tmp_path, moto_s3, s3_env, monkeypatch):
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", str(5 * 1024 * 1024))
    big = tmp_path / "big.bin"
    with open(big, "wb") as fh:
        for i in range(12):
            fh.write(bytes([i]) * (1024 * 1024))
    repo.log_artifact(big, "blobs")
    head = _boto(moto_s3).head_object(Bucket=s3_env, Key="exp/1/run/artifacts/blobs/big.bin")
    assert head["ContentLength"] == 12 * 1024 * 1024
    assert head["ETag"].strip('"').endswith("-3")  # 5 + 5 + 2 MiB: three parts
    out = Path(repo.download_artifacts("blobs/big.bin", tmp_path / "dl"))
    assert out.read_bytes() == big.read_bytes()


_MEMORY_PROBE = textwrap.dedent("""
    import hashlib, os, resource, sys, tempfile
    from pathlib import Path
    from tureen.artifacts import get_artifact_repository

    def rss_mb():
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    bucket, size_mb = sys.argv[1], int(sys.argv[2])
    tmp = Path(tempfile.mkdtemp())
    src = tmp / "big.bin"
    h = hashlib.sha256()
    block = os.urandom(1 << 20)
    with open(src, "wb") as fh:
        for i in range(size_mb):
            chunk = block[i % 256:] + block[:i % 256]
            h.update(chunk)
            fh.write(chunk)
    repo = get_artifact_repository(f"s3://{bucket}/big")
    repo.list_artifacts()  # the boto3 client and its imports are loaded before the baseline
    base = rss_mb()
    repo.log_artifact(src)
    after_up = rss_mb()
    out = Path(repo.download_artifacts("big.bin", tmp / "dl"))
    after_down = rss_mb()
    g = hashlib.sha256()
    with open(out, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            g.update(chunk)
    streamed = sum(len(c) for c in repo.open_stream("big.bin"))
    after_stream = rss_mb()

    class Unseekable:  # what a WSGI request body looks like to the artifact proxy
        def __init__(self, fh):
            self.fh = fh
        def read(self, n=-1):
            return self.fh.read(n)
    with open(src, "rb") as fh:
        repo.log_stream(Unseekable(fh), "again.bin")
    after_stream_up = rss_mb()
    print(base, after_up, after_down, after_stream, after_stream_up, h.hexdigest() == g.hexdigest(), streamed,
          repo.file_size("again.bin"))
""")


@pytest.mark.slow
def test_200mb_upload_and_download_keep_memory_bounded(s3_env):
    """A 200 MB artifact goes up and comes back with the process's peak memory growing < 100 MB."""
    size_mb = 200
    proc = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, s3_env, str(size_mb)], capture_output=True,
                          text=True, timeout=600, env={**os.environ})
    assert proc.returncode == 0, proc.stderr[-3000:]
    base, up, down, stream, stream_up, same, streamed, again = proc.stdout.split()
    assert same == "True" and int(streamed) == int(again) == size_mb * 1024 * 1024
    print("peak MB: base, after upload, download, stream out, stream in:", base, up, down, stream, stream_up)
    for peak in (up, down, stream, stream_up):
        assert float(peak) - float(base) < 100, proc.stdout
