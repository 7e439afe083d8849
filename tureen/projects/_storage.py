"""Where ``path`` parameters given as URIs (``s3://``, ``runs:/``, ``models:/``...) are downloaded.

Each parameter gets its own directory under ``storage_dir`` (a fresh temporary directory when none is
given), and the downloaded file must land inside it: a URI cannot write outside the storage directory.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from tureen.exceptions import ProjectParameterError, TureenError

__all__ = ["download_to_storage"]


def download_to_storage(uri: str, storage_dir: Path | None, parameter: str) -> Path:
    """Download ``uri`` into ``storage_dir/<parameter>/`` and return the local path.

    Raises:
        ProjectParameterError: the download failed or would land outside ``storage_dir``.
    """
    from tureen.artifacts._download import download_artifact_uri

    root = Path(storage_dir) if storage_dir is not None else Path(tempfile.mkdtemp(prefix="tureen-project-"))
    root.mkdir(parents=True, exist_ok=True)
    root = root.resolve()
    safe = re.sub(r"[^A-Za-z0-9_.\-]", "_", parameter)[:100] or "param"
    if safe in (".", ".."):
        safe = "param"
    dest = root / safe
    dest.mkdir(exist_ok=True)
    try:
        local = download_artifact_uri(uri, dest).resolve()
    except TureenError as exc:
        raise ProjectParameterError(f"Parameter {parameter!r}: cannot download {uri!r:.200}: {exc.message}",
                                    details={"parameter": parameter}) from None
    except OSError as exc:
        raise ProjectParameterError(f"Parameter {parameter!r}: cannot download {uri!r:.200}: {exc}",
                                    details={"parameter": parameter}) from None
    if local != dest and dest not in local.parents:
        raise ProjectParameterError(f"Parameter {parameter!r}: the download of {uri!r:.200} left the storage "
                                    "directory", details={"parameter": parameter})
    return local
