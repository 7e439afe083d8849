"""The S3 artifact repository (``s3://bucket/prefix``), with the interface of the local repository.

Configuration follows MLflow's environment variables, so a deployment that works for MLflow works here:

==================================  ================================================================
``MLFLOW_S3_ENDPOINT_URL``          an S3-compatible endpoint (MinIO, moto, Ceph, …)
``MLFLOW_S3_IGNORE_TLS``            ``true`` turns TLS certificate verification off
``MLFLOW_S3_UPLOAD_EXTRA_ARGS``     a JSON object merged into every upload (``ServerSideEncryption`` …)
``MLFLOW_S3_EXPECTED_BUCKET_OWNER`` the account that must own the bucket (``ExpectedBucketOwner``)
``MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE``  ``path``, ``virtual`` or ``auto`` (default)
``MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE``   part size in bytes for multipart transfers (default 10 MiB)
``AWS_*``                           credentials and region, read by boto3 itself
==================================  ================================================================

Transfers stream in both directions: uploads go through boto3's managed transfer (multipart above one
part size, a bounded number of parts in flight), downloads are written chunk by chunk to a temp file
beside the target and renamed into place, so memory stays constant whatever the file size.

Keys are confined like local paths: an artifact path with ``..``, a leading ``/`` or a NUL is refused,
and a key found in the bucket whose part below the root does not pass the same check (written there
by another tool) is refused on download rather than written outside the destination directory.

Example:
    >>> repo = S3ArtifactRepository("s3://my-bucket/experiments/1")  # doctest: +SKIP
    >>> repo.log_text("hello", "notes/readme.txt")  # doctest: +SKIP
    >>> [f.path for f in repo.list_artifacts("notes")]  # doctest: +SKIP
    ['notes/readme.txt']
"""

from __future__ import annotations

import json
import os
import posixpath
import tempfile
import threading
import uuid
from pathlib import Path
from typing import IO, Any, Iterator

from tureen.artifacts.local import check_relative_path
from tureen.exceptions import InvalidParameterError, ResourceNotFoundError, StoreUnavailableError, TureenError
from tureen.tracking.entities import FileInfo

__all__ = ["S3ArtifactRepository", "parse_s3_uri"]

_DEFAULT_CHUNK = 10 * 1024 * 1024
_CLIENTS: dict[tuple[Any, ...], Any] = {}
_CLIENTS_LOCK = threading.Lock()


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``(bucket, key prefix)`` of an ``s3://`` URI; the prefix has no leading or trailing slash.

    Example:
        >>> parse_s3_uri("s3://bucket/a/b/")
        ('bucket', 'a/b')
    """
    from urllib.parse import urlparse

    parsed = urlparse(uri)
    if parsed.scheme != "s3":
        raise InvalidParameterError(f"Not an S3 URI: {uri!r} (expected s3://<bucket>/<path>)")
    if not parsed.netloc:
        raise InvalidParameterError(f"Invalid S3 URI {uri!r}: the bucket name is empty")
    if parsed.query or parsed.fragment:
        raise InvalidParameterError(f"Invalid S3 URI {uri!r}: query strings and fragments are not allowed")
    prefix = check_relative_path(parsed.path.lstrip("/"), "S3 key prefix")
    return parsed.netloc, prefix


def _env_bool(name: str) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise InvalidParameterError(f"Invalid value {os.environ[name]!r} for {name}: use true or false")


def _chunk_size() -> int:
    raw = os.environ.get("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE")
    if raw is None:
        return _DEFAULT_CHUNK
    try:
        size = int(raw)
    except ValueError:
        raise InvalidParameterError(f"Invalid MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE {raw!r}: an integer number of "
                                    "bytes is needed") from None
    if size < 5 * 1024 * 1024:  # S3's own minimum part size
        raise InvalidParameterError(f"Invalid MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE {raw!r}: S3 parts must be at "
                                    "least 5 MiB (5242880)")
    return size


def _upload_extra_args() -> dict[str, Any]:
    raw = os.environ.get("MLFLOW_S3_UPLOAD_EXTRA_ARGS")
    extra: dict[str, Any] = {}
    if raw:
        try:
            extra = json.loads(raw)
        except ValueError as exc:
            raise InvalidParameterError(f"Invalid MLFLOW_S3_UPLOAD_EXTRA_ARGS: not JSON ({exc})") from None
        if not isinstance(extra, dict):
            raise InvalidParameterError("Invalid MLFLOW_S3_UPLOAD_EXTRA_ARGS: a JSON object is needed, e.g. "
                                        '{"ServerSideEncryption": "aws:kms"}')
    owner = os.environ.get("MLFLOW_S3_EXPECTED_BUCKET_OWNER")
    if owner:
        extra.setdefault("ExpectedBucketOwner", owner)
    return extra


def _client() -> Any:
    """One boto3 client per configuration and process (clients are thread-safe; creating them is not)."""
    from tureen._optional import import_optional

    boto3 = import_optional("boto3", "s3:// artifact stores")
    from botocore.config import Config

    endpoint = os.environ.get("MLFLOW_S3_ENDPOINT_URL") or None
    verify = not _env_bool("MLFLOW_S3_IGNORE_TLS")
    style = os.environ.get("MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE", "auto")
    if style not in ("auto", "path", "virtual"):
        raise InvalidParameterError(f"Invalid MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE {style!r}: use path, virtual or "
                                    "auto")
    region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION")
    creds = tuple(os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                                               "AWS_PROFILE"))
    key = (endpoint, verify, style, region, creds, os.getpid())
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            config = Config(signature_version="s3v4", s3={"addressing_style": style},
                            retries={"max_attempts": 5, "mode": "standard"})
            client = boto3.session.Session().client("s3", endpoint_url=endpoint, verify=verify,
                                                    region_name=region, config=config)
            _CLIENTS[key] = client
        return client


def _translate(exc: BaseException, what: str) -> TureenError:
    """A typed error for a botocore failure (no stack trace, the S3 code in the message)."""
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        msg = f"{what}: S3 answered {code or status} ({err.get('Message', '')})"
        if code in ("NoSuchKey", "NoSuchBucket", "NoSuchUpload", "404", "NotFound"):
            return ResourceNotFoundError(msg)
        if code in ("InvalidPart", "InvalidPartOrder", "EntityTooSmall", "MalformedXML"):
            return InvalidParameterError(msg)
        if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            return TureenError(msg, error_code="PERMISSION_DENIED", http_status=403)
        return StoreUnavailableError(msg)
    return StoreUnavailableError(f"{what}: {exc}")


def _typed(exc: BaseException, what: str) -> BaseException:
    """``exc`` as a typed error when it (or its cause) comes from botocore/boto3/s3transfer; else ``exc``."""
    if isinstance(exc, TureenError):
        return exc
    seen = exc
    while seen is not None:
        if type(seen).__module__.startswith("botocore"):
            return _translate(seen, what)
        seen = seen.__cause__ or seen.__context__
    if type(exc).__module__.startswith(("boto3", "s3transfer")):
        return StoreUnavailableError(f"{what}: {exc}")
    return exc


def _read_full(fileobj: IO[bytes], size: int) -> bytes:
    """Read exactly ``size`` bytes unless the stream ends first (a socket may return less per read)."""
    buf = bytearray()
    while len(buf) < size:
        piece = fileobj.read(size - len(buf))
        if not piece:
            break
        buf += piece
    return bytes(buf)


class S3ArtifactRepository:
    """Artifacts under ``s3://<bucket>/<prefix>``; same methods as :class:`LocalArtifactRepository`.

    Example:
        >>> repo = S3ArtifactRepository("s3://bucket/1/abc/artifacts")  # doctest: +SKIP
        >>> repo.log_artifact("model.pkl", "model")  # doctest: +SKIP
    """

    def __init__(self, root_uri: str) -> None:
        self.bucket, self.prefix = parse_s3_uri(root_uri)
        self.root_uri = f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    # -- keys ---------------------------------------------------------------------------------------------
    def _key(self, rel: str | None, what: str = "artifact path") -> str:
        rel = check_relative_path(rel, what)
        return "/".join(p for p in (self.prefix, rel) if p)

    def _rel_of(self, key: str) -> str:
        """The path below the root of a key listed from the bucket; refuses keys that escape."""
        base = f"{self.prefix}/" if self.prefix else ""
        if not key.startswith(base):
            raise InvalidParameterError(f"S3 key {key!r} is not under the artifact root {self.root_uri}")
        inner = key[len(base):]
        checked = check_relative_path(inner, "S3 key")
        if checked != inner.rstrip("/"):
            # "a//b" or "a/./b" would be written somewhere other than what the key names: refuse
            raise InvalidParameterError(f"Refusing S3 key {key!r}: it is not a normalized path below "
                                        f"{self.root_uri}")
        return checked

    def _transfer_config(self) -> Any:
        from boto3.s3.transfer import TransferConfig

        chunk = _chunk_size()
        # bounded: at most max_concurrency parts of `chunk` bytes are buffered at once
        return TransferConfig(multipart_threshold=chunk, multipart_chunksize=chunk, max_concurrency=4,
                              io_chunksize=256 * 1024, use_threads=True)

    # -- writing ------------------------------------------------------------------------------------------
    def log_artifact(self, local_file: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        src = Path(local_file)
        if not src.is_file():
            raise ResourceNotFoundError(f"Cannot log artifact {str(src)!r}: no such file")
        base = check_relative_path(artifact_path)
        self._upload_file(src, self._key(f"{base}/{src.name}" if base else src.name))

    def log_artifacts(self, local_dir: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        src = Path(local_dir)
        if not src.is_dir():
            raise ResourceNotFoundError(f"Cannot log artifacts from {str(src)!r}: no such directory")
        base = check_relative_path(artifact_path)
        for path, rel in self._walk_local(src):
            self._upload_file(path, self._key(f"{base}/{rel}" if base else rel))

    @staticmethod
    def _walk_local(src: Path) -> list[tuple[Path, str]]:
        """Files of a local tree; a symlink leading outside it is refused (as the local repository does)."""
        src_real = Path(os.path.realpath(src))
        files = []
        for dirpath, dirnames, filenames in os.walk(src, followlinks=False):
            for name in list(dirnames) + filenames:
                p = Path(dirpath) / name
                if p.is_symlink():
                    real = Path(os.path.realpath(p))
                    if real != src_real and src_real not in real.parents:
                        raise InvalidParameterError(f"Refusing to log {str(p)!r}: it is a symbolic link leading "
                                                    f"outside {str(src)!r}")
            for name in sorted(filenames):
                p = Path(dirpath) / name
                files.append((p, p.relative_to(src).as_posix()))
        return files

    def _upload_file(self, path: Path, key: str) -> None:
        # by file name, boto3 reads each part from disk as it is sent instead of buffering it
        extra = _upload_extra_args() or None
        try:
            _client().upload_file(str(path), self.bucket, key, ExtraArgs=extra, Config=self._transfer_config())
        except Exception as exc:  # noqa: BLE001
            raise _typed(exc, f"Cannot upload s3://{self.bucket}/{key}") from None

    def _upload_stream(self, fileobj: IO[bytes], key: str) -> None:
        """Upload a readable stream one part at a time: at most one part (``chunk`` bytes) is held.

        boto3's managed transfer buffers several parts of a non-seekable stream at once; the artifact
        proxy hands us request bodies, so parts are read and sent here in sequence instead.
        """
        chunk = _chunk_size()
        extra = _upload_extra_args()
        client = _client()
        what = f"Cannot upload s3://{self.bucket}/{key}"
        first = _read_full(fileobj, chunk)
        if len(first) < chunk:  # small: one PUT
            try:
                client.put_object(Bucket=self.bucket, Key=key, Body=first, **extra)
            except Exception as exc:  # noqa: BLE001
                raise _typed(exc, what) from None
            return
        try:
            upload_id = client.create_multipart_upload(Bucket=self.bucket, Key=key, **extra)["UploadId"]
        except Exception as exc:  # noqa: BLE001
            raise _typed(exc, what) from None
        owner = {k: v for k, v in extra.items() if k in ("ExpectedBucketOwner", "SSECustomerAlgorithm",
                                                           "SSECustomerKey", "SSECustomerKeyMD5")}
        parts = []
        try:
            data, number = first, 1
            while data:
                resp = client.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number,
                                          Body=data, **owner)
                parts.append({"PartNumber": number, "ETag": resp["ETag"]})
                data = b""  # let the part go before reading the next one
                data = _read_full(fileobj, chunk)
                number += 1
            client.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                             MultipartUpload={"Parts": parts},
                                             **{k: v for k, v in owner.items() if k == "ExpectedBucketOwner"})
        except BaseException as exc:
            try:
                client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            except Exception:  # noqa: BLE001 - report the upload failure, not the clean-up's
                pass
            if isinstance(exc, Exception):
                raise _typed(exc, what) from None
            raise

    def log_stream(self, fileobj: IO[bytes], artifact_file: str) -> None:
        """Upload what ``fileobj`` yields (read in parts; it need not be seekable) as ``artifact_file``.

        Example:
            >>> import io; repo.log_stream(io.BytesIO(b"x"), "a/x.bin")  # doctest: +SKIP
        """
        rel = check_relative_path(artifact_file, "artifact file")
        if not rel:
            raise InvalidParameterError("Invalid artifact file '': name a file inside the artifact root")
        self._upload_stream(fileobj, self._key(rel))

    def log_bytes(self, data: bytes, artifact_file: str) -> None:
        import io

        self.log_stream(io.BytesIO(data), artifact_file)

    def log_text(self, text: str, artifact_file: str) -> None:
        self.log_bytes(text.encode("utf-8"), artifact_file)

    def log_dict(self, dictionary: Any, artifact_file: str) -> None:
        """JSON, or YAML when the file name ends in ``.yaml``/``.yml``."""
        if artifact_file.endswith((".yaml", ".yml")):
            import yaml

            text = yaml.safe_dump(dictionary, default_flow_style=False, sort_keys=False)
        else:
            text = json.dumps(dictionary, indent=2)
        self.log_text(text, artifact_file)

    def publish_directory(self, local_dir: str | os.PathLike[str]) -> None:
        """Upload ``local_dir``'s tree as the content of this (empty) root.

        S3 has no rename, so the tree cannot appear all at once; instead nothing is published over an
        existing root, and a failure part-way deletes what was uploaded, so no half model stays behind.
        """
        if self._any_key(self.prefix):
            raise InvalidParameterError(f"Cannot publish into {self.root_uri}: it already exists")
        files = self._walk_local(Path(local_dir))
        try:
            for path, rel in files:
                self._upload_file(path, self._key(rel))
        except BaseException:
            try:
                self.delete_artifacts()
            except Exception:  # noqa: BLE001 - report the upload failure, not the clean-up's
                pass
            raise

    # -- reading ------------------------------------------------------------------------------------------
    def _any_key(self, key_prefix: str) -> bool:
        prefix = f"{key_prefix}/" if key_prefix else ""
        try:
            resp = _client().list_objects_v2(Bucket=self.bucket, Prefix=prefix, MaxKeys=1)
        except Exception as exc:  # noqa: BLE001
            raise _typed(exc, f"Cannot list s3://{self.bucket}/{prefix}") from None
        return bool(resp.get("KeyCount") or resp.get("Contents"))

    def _pages(self, prefix: str, delimiter: str | None) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        if delimiter:
            kwargs["Delimiter"] = delimiter
        try:
            yield from _client().get_paginator("list_objects_v2").paginate(**kwargs)
        except Exception as exc:  # noqa: BLE001
            raise _typed(exc, f"Cannot list s3://{self.bucket}/{prefix}") from None

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        """Direct children of ``path`` (paths relative to the root; empty list if nothing is there)."""
        rel = check_relative_path(path)
        key = self._key(rel)
        prefix = f"{key}/" if key else ""
        out: list[FileInfo] = []
        for page in self._pages(prefix, "/"):
            for cp in page.get("CommonPrefixes", []) or []:
                name = cp["Prefix"][len(prefix):].rstrip("/")
                if name and self._safe_name(name):
                    out.append(FileInfo(f"{rel}/{name}" if rel else name, True, None))
            for obj in page.get("Contents", []) or []:
                name = obj["Key"][len(prefix):]
                if not name or name.endswith("/") or not self._safe_name(name):
                    continue  # the directory marker itself, or a key no local path can name
                out.append(FileInfo(f"{rel}/{name}" if rel else name, False, int(obj.get("Size", 0))))
        return sorted(out, key=lambda f: f.path)

    @staticmethod
    def _safe_name(name: str) -> bool:
        return name not in (".", "..") and "\x00" not in name and "\\" not in name

    def _is_file(self, key: str) -> bool:
        if not key:
            return False
        try:
            _client().head_object(Bucket=self.bucket, Key=key)
            return True
        except Exception as exc:  # noqa: BLE001
            typed = _typed(exc, f"Cannot read s3://{self.bucket}/{key}")
            if isinstance(typed, ResourceNotFoundError):
                return False
            raise typed from None

    def presigned_url(self, artifact_file: str, method: str = "get", expiration: int = 900) -> str:
        """A presigned URL to GET (or PUT, ``method="put"``) one artifact file directly on S3.

        Example:
            >>> repo.presigned_url("model/MLmodel", expiration=60)  # doctest: +SKIP
            'https://bucket.s3.amazonaws.com/...&Signature=...'
        """
        rel = check_relative_path(artifact_file, "artifact file")
        if not rel:
            raise InvalidParameterError("Invalid artifact file '': name a file inside the artifact root")
        key = self._key(rel)
        op = {"get": "get_object", "put": "put_object"}[method]
        try:
            return _client().generate_presigned_url(ClientMethod=op, Params={"Bucket": self.bucket, "Key": key},
                                                    ExpiresIn=int(expiration))
        except Exception as exc:  # noqa: BLE001
            raise _typed(exc, f"Cannot presign s3://{self.bucket}/{key}") from None

    def file_size(self, artifact_file: str) -> int:
        """Size in bytes of one artifact file (``ResourceNotFoundError`` if absent)."""
        key = self._key(artifact_file, "artifact file")
        try:
            return int(_client().head_object(Bucket=self.bucket, Key=key)["ContentLength"])
        except Exception as exc:  # noqa: BLE001
            raise _typed(exc, f"No artifact at s3://{self.bucket}/{key}") from None

    def open_stream(self, artifact_file: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """The bytes of one artifact file, as an iterator of chunks (for streaming HTTP responses).

        Example:
            >>> b"".join(repo.open_stream("a/x.bin"))  # doctest: +SKIP
        """
        key = self._key(artifact_file, "artifact file")
        if not key or key == self.prefix:
            raise InvalidParameterError("Invalid artifact file '': name a file inside the artifact root")
        try:
            body = _client().get_object(Bucket=self.bucket, Key=key)["Body"]
        except Exception as exc:  # noqa: BLE001
            raise _typed(exc, f"No artifact at {artifact_file!r} under {self.root_uri}") from None

        def chunks() -> Iterator[bytes]:
            try:
                yield from body.iter_chunks(chunk_size)
            finally:
                body.close()

        return chunks()

    def _download_key(self, key: str, dest: Path) -> None:
        """Stream one object to ``dest`` through a temp file beside it (readers never see half a file)."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.tmp")
        try:
            with open(tmp, "wb") as fh:
                _client().download_fileobj(self.bucket, key, fh, Config=self._transfer_config())
            os.replace(tmp, dest)
        except Exception as exc:  # noqa: BLE001
            raise _typed(exc, f"Cannot download s3://{self.bucket}/{key}") from None
        finally:
            if tmp.exists():
                tmp.unlink()

    def download_artifacts(self, artifact_path: str | None = None, dst_path: str | os.PathLike[str] | None = None
                           ) -> str:
        """Copy a file or directory to ``dst_path`` (a new temp dir if ``None``); return the local path."""
        rel = check_relative_path(artifact_path)
        key = self._key(rel)
        dst = Path(dst_path) if dst_path is not None else Path(tempfile.mkdtemp(prefix="tureen-artifacts-"))
        dst.mkdir(parents=True, exist_ok=True)
        name = posixpath.basename(rel) if rel else ""
        out = dst / name if name else dst
        if self._is_file(key):
            self._download_key(key, out)
            return str(out)
        prefix = f"{key}/" if key else ""
        keys = [obj["Key"] for page in self._pages(prefix, None) for obj in page.get("Contents", []) or []]
        if not keys:
            raise ResourceNotFoundError(f"No artifact at {rel or '/'!r} under {self.root_uri}")
        # check every key before writing anything: a hostile key fails the whole download cleanly
        plan = []
        for k in keys:
            if k.endswith("/"):
                continue  # a "directory marker" object written by some S3 tools
            inner = self._rel_of(k)
            sub = inner[len(rel):].lstrip("/") if rel else inner
            plan.append((k, out / sub))
        out.mkdir(parents=True, exist_ok=True)
        for k, target in plan:
            self._download_key(k, target)
        return str(out)

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        key = self._key(artifact_path)
        batch: list[dict[str, str]] = []
        client = _client()

        def flush() -> None:
            if batch:
                try:
                    client.delete_objects(Bucket=self.bucket, Delete={"Objects": list(batch), "Quiet": True})
                except Exception as exc:  # noqa: BLE001
                    raise _typed(exc, f"Cannot delete under s3://{self.bucket}/{key}") from None
                batch.clear()

        if self._is_file(key):
            batch.append({"Key": key})
        prefix = f"{key}/" if key else ""
        for page in self._pages(prefix, None):
            for obj in page.get("Contents", []) or []:
                batch.append({"Key": obj["Key"]})
                if len(batch) == 1000:  # S3's limit per DeleteObjects call
                    flush()
        flush()
