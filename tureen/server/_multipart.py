"""Multipart uploads through the artifact proxy (``mlflow-artifacts/mpu/create|complete|abort``).

MLflow's shapes: *create* takes ``path`` (the client's file name; only its last component is used) and
``num_parts`` and answers ``upload_id`` plus one credential ``{url, part_number, headers}`` per part; the
client PUTs each part to its URL, keeps the ``ETag`` header, and *complete* sends ``parts`` back
(``[{part_number, etag, url}]``); *abort* drops the upload. The file lands at
``<artifact_path>/<basename(path)>`` inside the destination.

* **S3 destination**: a real S3 multipart upload; the part URLs are presigned ``upload_part`` URLs, so
  the parts go straight to S3 (the server never sees their bytes).
* **local-disk destination**: our own scheme. The part URLs point back at this server
  (``PUT mlflow-artifacts/mpu/upload/<upload_id>/<part_number>``); each part is streamed to a file in a
  staging directory beside the destination (shared by all workers: state lives on disk, not in a
  process), and *complete* concatenates them (streamed, constant memory) into a temporary file beside the
  target, renamed into place. The upload id (128 random bits) is the capability to send parts, as a
  presigned URL is on S3: part URLs carry no credentials (MLflow's client sends none to them).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from tureen.exceptions import InvalidParameterError, ResourceNotFoundError

__all__ = ["create", "complete", "abort", "upload_part", "MAX_PARTS"]

MAX_PARTS = 10_000  # S3's limit, kept for the local disk too
PRESIGN_SECONDS = 3600
STALE_SECONDS = 7 * 24 * 3600  # an upload nobody completed or aborted is swept after a week
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
_CHUNK = 1 << 20


def _file_name(path: Any) -> str:
    if not isinstance(path, str) or not path:
        raise InvalidParameterError("Missing value for required parameter 'path' (the name of the file to upload)")
    if "\x00" in path:
        raise InvalidParameterError("Invalid 'path': it contains a NUL character")
    name = path.replace("\\", "/").rstrip("/").rpartition("/")[2]
    if name in ("", ".", ".."):
        raise InvalidParameterError(f"Invalid 'path' {path[:200]!r}: it names no file")
    return name


def _num_parts(n: Any) -> int:
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_PARTS:
        raise InvalidParameterError(f"'num_parts' must be an integer from 1 to {MAX_PARTS}, got {n!r}")
    return n


def _target_rel(artifact_path: str, path: Any) -> str:
    from tureen.artifacts.local import check_relative_path

    base = check_relative_path(artifact_path)
    name = _file_name(path)
    return f"{base}/{name}" if base else name


# ==========================================================================================================
# local disk
# ==========================================================================================================
def _staging(local: Any) -> Path:
    root = Path(local.root)
    return root.parent / f".{root.name}.multipart"


def _upload_dir(local: Any, upload_id: Any) -> Path:
    if not isinstance(upload_id, str) or not _UPLOAD_ID.match(upload_id):
        raise ResourceNotFoundError("No such multipart upload")
    d = _staging(local) / upload_id
    if not (d / "meta.json").is_file():
        raise ResourceNotFoundError(f"No multipart upload {upload_id} (completed, aborted or never created)")
    return d


def _sweep(staging: Path) -> None:
    try:
        entries = list(staging.iterdir())
    except OSError:
        return
    cutoff = time.time() - STALE_SECONDS
    for d in entries:
        try:
            if d.stat().st_mtime < cutoff:
                shutil.rmtree(d, ignore_errors=True)
        except OSError:
            pass


def _part_url(base_url: str, upload_id: str, number: int) -> str:
    return f"{base_url.rstrip('/')}/mpu/upload/{upload_id}/{number}"


def create(st: Any, artifact_path: str, path: Any, num_parts: Any, base_url: str) -> dict[str, Any]:
    """Start an upload; ``base_url`` is this server's ``…/2.0/mlflow-artifacts`` as the client called it."""
    from tureen.server.app import _local_dest

    rel = _target_rel(artifact_path, path)
    n = _num_parts(num_parts)
    local = _local_dest(st)
    if local is None:
        return _s3(st).create(rel, n)
    target = local._target(rel)  # confined to the destination (symlinks checked)
    if target.is_dir():
        raise InvalidParameterError(f"Cannot upload to {rel!r}: it is a directory")
    staging = _staging(local)
    staging.mkdir(parents=True, exist_ok=True)
    _sweep(staging)
    upload_id = uuid.uuid4().hex
    d = staging / upload_id
    d.mkdir()
    tmp = d / "meta.json.tmp"
    tmp.write_text(json.dumps({"rel": rel, "num_parts": n}))
    os.replace(tmp, d / "meta.json")
    creds = [{"url": _part_url(base_url, upload_id, i), "part_number": i, "headers": {}} for i in range(1, n + 1)]
    return {"upload_id": upload_id, "credentials": creds}


def upload_part(st: Any, upload_id: str, part_number: int, stream: Any) -> str:
    """Store one part (streamed); returns its ETag (the MD5 of its bytes, quoted, as S3 answers)."""
    from tureen.server.app import _local_dest

    local = _local_dest(st)
    if local is None:
        raise ResourceNotFoundError("No such multipart upload (parts of S3 uploads go to S3)")
    d = _upload_dir(local, upload_id)
    meta = json.loads((d / "meta.json").read_text())
    if not 1 <= part_number <= meta["num_parts"]:
        raise InvalidParameterError(f"Part number {part_number} is outside 1..{meta['num_parts']}")
    md5 = hashlib.md5(usedforsecurity=False)
    tmp = d / f"part-{part_number}.{uuid.uuid4().hex}.tmp"
    try:
        with open(tmp, "wb") as fh:
            while True:
                chunk = stream.read(_CHUNK)
                if not chunk:
                    break
                md5.update(chunk)
                fh.write(chunk)
        etag = md5.hexdigest()
        if not d.is_dir():  # aborted while the part was arriving
            raise ResourceNotFoundError(f"No multipart upload {upload_id} (aborted)")
        os.replace(tmp, d / f"part-{part_number}.{etag}")
        for old in d.glob(f"part-{part_number}.*"):  # a part sent again replaces the earlier one
            if old.name != f"part-{part_number}.{etag}" and not old.name.endswith(".tmp"):
                old.unlink(missing_ok=True)
    finally:
        tmp.unlink(missing_ok=True)
    return f'"{etag}"'


def _parts(parts: Any, num_parts: int) -> dict[int, str]:
    if not isinstance(parts, list) or not parts:
        raise InvalidParameterError("Missing value for required parameter 'parts'")
    out: dict[int, str] = {}
    for i, p in enumerate(parts):
        if not isinstance(p, dict):
            raise InvalidParameterError(f"parts[{i}] must be an object with part_number and etag")
        number, etag = p.get("part_number"), p.get("etag")
        if not isinstance(number, int) or isinstance(number, bool) or not isinstance(etag, str) or number in out:
            raise InvalidParameterError(f"parts[{i}] needs a distinct integer part_number and a string etag")
        out[number] = etag.strip().strip('"')
    if sorted(out) != list(range(1, num_parts + 1)):
        raise InvalidParameterError(f"'parts' must list every part from 1 to {num_parts} once; got "
                                    f"{sorted(out)[:20]}")
    return out


def complete(st: Any, artifact_path: str, path: Any, upload_id: Any, parts: Any) -> dict[str, Any]:
    from tureen.server.app import _local_dest

    rel = _target_rel(artifact_path, path)
    local = _local_dest(st)
    if local is None:
        return _s3(st).complete(rel, upload_id, parts)
    d = _upload_dir(local, upload_id)
    meta = json.loads((d / "meta.json").read_text())
    if meta["rel"] != rel:
        raise InvalidParameterError(f"Upload {upload_id} is for {meta['rel']!r}, not {rel!r}")
    wanted = _parts(parts, meta["num_parts"])
    files = []
    for number, etag in sorted(wanted.items()):
        f = d / f"part-{number}.{etag}"
        if not re.fullmatch(r"[0-9a-f]{32}", etag) or not f.is_file():
            raise InvalidParameterError(f"Part {number} with ETag {etag[:64]!r} was not uploaded")
        files.append(f)
    target = local._target(rel)
    target.parent.mkdir(parents=True, exist_ok=True)
    local._target(rel)  # again: a directory created concurrently may be a symlink
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    try:
        with open(tmp, "wb") as out:
            for f in files:
                with open(f, "rb") as src:
                    shutil.copyfileobj(src, out, _CHUNK)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    shutil.rmtree(d, ignore_errors=True)
    return {}


def abort(st: Any, artifact_path: str, path: Any, upload_id: Any) -> dict[str, Any]:
    from tureen.server.app import _local_dest

    rel = _target_rel(artifact_path, path)
    local = _local_dest(st)
    if local is None:
        return _s3(st).abort(rel, upload_id)
    d = _upload_dir(local, upload_id)
    shutil.rmtree(d, ignore_errors=True)
    return {}


# ==========================================================================================================
# S3: real multipart uploads, presigned part URLs
# ==========================================================================================================
class _S3Uploads:
    def __init__(self, repo: Any) -> None:
        self.repo = repo

    def _call(self, what: str, fn: Any, **kwargs: Any) -> Any:
        from tureen.artifacts.s3 import _typed

        try:
            return fn(**kwargs)
        except Exception as exc:  # noqa: BLE001 - typed below
            raise _typed(exc, what) from None

    def create(self, rel: str, n: int) -> dict[str, Any]:
        from tureen.artifacts.s3 import _client, _upload_extra_args

        client = _client()
        key = self.repo._key(rel)
        what = f"Cannot start a multipart upload to s3://{self.repo.bucket}/{key}"
        upload_id = self._call(what, client.create_multipart_upload, Bucket=self.repo.bucket, Key=key,
                               **_upload_extra_args())["UploadId"]
        creds = []
        for i in range(1, n + 1):
            url = self._call(what, client.generate_presigned_url, ClientMethod="upload_part",
                             Params={"Bucket": self.repo.bucket, "Key": key, "UploadId": upload_id, "PartNumber": i},
                             ExpiresIn=PRESIGN_SECONDS)
            creds.append({"url": url, "part_number": i, "headers": {}})
        return {"upload_id": upload_id, "credentials": creds}

    def complete(self, rel: str, upload_id: Any, parts: Any) -> dict[str, Any]:
        from tureen.artifacts.s3 import _client

        if not isinstance(upload_id, str) or not upload_id or len(upload_id) > 1024:
            raise InvalidParameterError("Missing value for required parameter 'upload_id'")
        if not isinstance(parts, list) or not parts:
            raise InvalidParameterError("Missing value for required parameter 'parts'")
        wanted = _parts(parts, len(parts))
        key = self.repo._key(rel)
        self._call(f"Cannot complete the multipart upload to s3://{self.repo.bucket}/{key}",
                   _client().complete_multipart_upload, Bucket=self.repo.bucket, Key=key, UploadId=upload_id,
                   MultipartUpload={"Parts": [{"PartNumber": n, "ETag": f'"{e}"'} for n, e in sorted(wanted.items())]})
        return {}

    def abort(self, rel: str, upload_id: Any) -> dict[str, Any]:
        from tureen.artifacts.s3 import _client

        if not isinstance(upload_id, str) or not upload_id or len(upload_id) > 1024:
            raise InvalidParameterError("Missing value for required parameter 'upload_id'")
        key = self.repo._key(rel)
        self._call(f"Cannot abort the multipart upload to s3://{self.repo.bucket}/{key}",
                   _client().abort_multipart_upload, Bucket=self.repo.bucket, Key=key, UploadId=upload_id)
        return {}


def _s3(st: Any) -> _S3Uploads:
    from tureen.artifacts import get_artifact_repository
    from tureen.exceptions import TureenError

    repo = get_artifact_repository(st.settings.destination)
    if not hasattr(repo, "bucket") or not hasattr(repo, "_key"):
        # MLflow's client falls back to a single (streamed) PUT on exactly this message's start
        raise TureenError("Multipart upload is not supported for the current artifact repository (this server's "
                          "destination); upload with a single PUT, it is streamed", error_code="NOT_IMPLEMENTED",
                          http_status=501)
    return _S3Uploads(repo)


def enabled(st: Any) -> bool:
    """Whether ``server-info`` advertises multipart uploads (local disk and S3 destinations)."""
    from tureen.server.app import _local_dest

    if not st.settings.serve_artifacts:
        return False
    if _local_dest(st) is not None:
        return True
    return st.settings.destination.startswith("s3://")
