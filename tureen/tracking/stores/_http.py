"""HTTP plumbing shared by the REST store and the ``mlflow-artifacts`` repository: one session per thread,
auth headers, timeouts, and retries with exponential backoff on 429/5xx and connection failures.

Environment (MLflow's names, and ``TUREEN_`` twins which win): ``MLFLOW_TRACKING_TOKEN`` (bearer),
``MLFLOW_TRACKING_USERNAME``/``MLFLOW_TRACKING_PASSWORD`` (basic), ``MLFLOW_TRACKING_INSECURE_TLS``,
``MLFLOW_TRACKING_SERVER_CERT_PATH``, ``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` (default 5),
``MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR`` (seconds, default 0.5; waits 0.5, 1, 2, … capped at 16 s),
``MLFLOW_HTTP_REQUEST_TIMEOUT`` (seconds, default 120).

Example:
    >>> http = HttpClient("http://127.0.0.1:5000")  # doctest: +SKIP
    >>> http.call("GET", "/api/2.0/mlflow/experiments/get", params={"experiment_id": "0"})  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from typing import Any, Callable

from tureen.exceptions import StoreUnavailableError, TureenError, error_from_json

__all__ = ["HttpClient", "env"]

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_STATUS_CODES = {400: "BAD_REQUEST", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "ENDPOINT_NOT_FOUND",
                 409: "RESOURCE_CONFLICT", 413: "REQUEST_LIMIT_EXCEEDED", 429: "REQUEST_LIMIT_EXCEEDED",
                 501: "NOT_IMPLEMENTED", 503: "TEMPORARILY_UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


def env(name: str, default: str | None = None) -> str | None:
    """``TUREEN_<name>`` if set, else ``MLFLOW_<name>``, else ``default``."""
    for prefix in ("TUREEN_", "MLFLOW_"):
        value = os.environ.get(prefix + name)
        if value not in (None, ""):
            return value
    return default


def _number(name: str, default: float) -> float:
    raw = env(name)
    try:
        return float(raw) if raw is not None else default
    except ValueError:
        from tureen.exceptions import InvalidParameterError

        raise InvalidParameterError(f"MLFLOW_{name}={raw!r} is not a number") from None


class HttpClient:
    """Calls to one server (``base``: ``http(s)://host:port[/prefix]``)."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self._local = threading.local()

    # -- configuration (read per call, so tests and long-lived processes see env changes) ------------------
    def _session(self) -> Any:
        session = getattr(self._local, "session", None)
        if session is None or getattr(self._local, "pid", None) != os.getpid():
            from tureen._optional import import_optional

            requests = import_optional("requests", "http(s):// tracking URIs")

            session = requests.Session()
            adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=16)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            self._local.session, self._local.pid = session, os.getpid()
        return session

    @staticmethod
    def headers() -> dict[str, str]:
        import base64

        from tureen import __version__

        out = {"User-Agent": f"tureen/{__version__}"}
        token = env("TRACKING_TOKEN")
        user, password = env("TRACKING_USERNAME"), env("TRACKING_PASSWORD")
        if token:
            out["Authorization"] = f"Bearer {token}"
        elif user is not None and password is not None:
            out["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        return out

    @staticmethod
    def _verify() -> Any:
        if (env("TRACKING_INSECURE_TLS") or "").lower() in ("1", "true", "yes"):
            return False
        return env("TRACKING_SERVER_CERT_PATH") or True

    # -- calls ------------------------------------------------------------------------------------------------
    def request(self, method: str, path: str, *, params: Any = None, json_body: Any = None,
                data: Callable[[], Any] | None = None, headers: dict[str, str] | None = None, stream: bool = False,
                timeout: float | None = None) -> Any:
        """One HTTP exchange with retries; returns the ``requests`` response of the last attempt.

        ``data`` is a factory (called again on a retry, e.g. to reopen a file being uploaded).
        """
        from tureen._optional import import_optional

        requests = import_optional("requests", "http(s):// tracking URIs")
        retries = int(_number("HTTP_REQUEST_MAX_RETRIES", 5))
        backoff = _number("HTTP_REQUEST_BACKOFF_FACTOR", 0.5)
        timeout = timeout or _number("HTTP_REQUEST_TIMEOUT", 120)
        url = f"{self.base}{path}"
        all_headers = {**self.headers(), **(headers or {})}
        attempt = 0
        while True:
            body = data() if data is not None else None
            try:
                resp = self._session().request(
                    method, url, params=params, data=body if json_body is None else json.dumps(json_body),
                    headers=({"Content-Type": "application/json", **all_headers} if json_body is not None
                             else all_headers),
                    stream=stream, timeout=timeout, verify=self._verify())
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt >= retries:
                    raise StoreUnavailableError(f"The tracking server {self.base} is unreachable ({method} "
                                                f"{path}): {type(exc).__name__}: {exc}") from None
                resp = None
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()
            if resp is not None and (resp.status_code not in RETRY_STATUSES or attempt >= retries):
                return resp
            wait = min(16.0, backoff * (2 ** attempt)) * (0.75 + random.random() / 2)
            if resp is not None:
                after = resp.headers.get("Retry-After")
                if after and after.isdigit():
                    wait = min(60.0, float(after))
                resp.close()
            time.sleep(wait)
            attempt += 1

    def call(self, method: str, path: str, body: dict[str, Any] | None = None,
             params: Any = None) -> dict[str, Any]:
        """A JSON endpoint: the parsed answer, or the server's error as a typed :class:`TureenError`."""
        if method == "GET":
            resp = self.request("GET", path, params=params if params is not None else body)
        else:
            resp = self.request(method, path, json_body=body or {})
        return self.parse(resp, method, path)

    def parse(self, resp: Any, method: str, path: str) -> dict[str, Any]:
        text = resp.text
        if resp.status_code == 200:
            if not text.strip() or text.strip() == "200 OK":
                return {}
            try:
                out = json.loads(text)
            except ValueError:
                raise TureenError(f"The tracking server answered {method} {path} with a body that is not JSON: "
                                  f"{text[:200]!r}") from None
            return out if isinstance(out, dict) else {}
        raise self.error(resp, method, path)

    def error(self, resp: Any, method: str, path: str) -> TureenError:
        try:
            body = json.loads(resp.text)
        except ValueError:
            body = None
        if isinstance(body, dict) and "error_code" in body:
            return error_from_json(body, resp.status_code)
        code = _STATUS_CODES.get(resp.status_code, "INTERNAL_ERROR")
        text = (resp.text or "").strip()[:300]
        return error_from_json({"error_code": code, "message": f"{method} {self.base}{path} failed with HTTP "
                                f"{resp.status_code}: {text}"}, resp.status_code)
