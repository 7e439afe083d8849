"""Class 5 for request bodies: a Parquet body is compressed and dictionary/run-length encoded, so a file of a
few hundred bytes can decode to gigabytes. The scoring server's reader bounds what a body decodes to, before
it decodes it, with a 413 naming the limit; ordinary bodies (numbers, strings, categories, nulls) read as
pandas reads them.
"""

from __future__ import annotations

import io
import resource
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tureen.exceptions import BadRequestError, RequestTooLargeError
from tureen.serving._parquet import read_parquet_bounded

MiB = 1 << 20


def _parquet(table: pa.Table, **kw) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd", **kw)
    return buf.getvalue()


def string_bomb(rows: int = 200_000, width: int = 100_000) -> bytes:
    """One ``width``-byte string repeated ``rows`` times: under a kilobyte on the wire, rows*width decoded."""
    col = pa.DictionaryArray.from_arrays(pa.array(np.zeros(rows, dtype=np.int32)), pa.array(["A" * width]))
    return _parquet(pa.table({"s": col}))


def test_string_dictionary_bomb_is_refused_before_decoding() -> None:
    body = string_bomb()
    assert len(body) < 4096  # 20 GB decoded
    with pytest.raises(RequestTooLargeError, match="decode to") as err:
        read_parquet_bounded(body, 256 * MiB)
    assert err.value.http_status == 413


def test_string_bomb_costs_no_memory_in_a_fresh_process() -> None:
    code = ("import resource, sys\n"
            "from tests.security.test_parquet_bombs import string_bomb\n"
            "from tureen.serving._parquet import read_parquet_bounded\n"
            "body = string_bomb()\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "try:\n    read_parquet_bounded(body, 256 << 20)\nexcept Exception as exc:\n    print(type(exc).__name__)\n"
            "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    name, grown_mib = proc.stdout.split()
    assert name == "RequestTooLargeError", proc.stderr[-2000:]
    assert int(grown_mib) < 64


def test_run_length_bomb_of_numbers_is_refused_from_the_footer() -> None:
    body = _parquet(pa.table({"x": pa.array(np.zeros(20_000_000, dtype=np.int64))}))
    assert len(body) < 200_000
    with pytest.raises(RequestTooLargeError, match="fixed-width"):
        read_parquet_bounded(body, 64 * MiB)


def test_plain_encoded_compressed_strings_are_refused() -> None:
    """Without dictionary encoding, zstd alone shrinks a long repeated string a thousand-fold."""
    body = _parquet(pa.table({"s": pa.array(["B" * 1_000_000] * 100)}), use_dictionary=False)
    assert len(body) < 64 * 1024
    with pytest.raises(RequestTooLargeError):
        read_parquet_bounded(body, 32 * MiB)


def test_ordinary_bodies_read_as_pandas_reads_them() -> None:
    df = pd.DataFrame({"tenure": [1.5, 2.0, None], "plan": ["basic", "pro", None], "n": [1, 2, 3],
                       "flag": [True, False, True], "cat": pd.Categorical(["a", "b", "a"])})
    body = df.to_parquet()
    got = read_parquet_bounded(body, 64 * MiB)
    expected = pd.read_parquet(io.BytesIO(body))
    pd.testing.assert_frame_equal(got, expected)


def test_large_honest_body_under_the_limit_still_reads() -> None:
    df = pd.DataFrame({"x": np.arange(500_000, dtype=np.float64), "s": [f"id-{i}" for i in range(500_000)]})
    got = read_parquet_bounded(df.to_parquet(), 64 * MiB)
    assert len(got) == 500_000 and got["s"].iloc[-1] == "id-499999"


@pytest.mark.parametrize("body", [b"", b"PAR1", b"PAR1garbagePAR1", b"not parquet at all" * 10])
def test_malformed_bodies_are_bad_requests(body: bytes) -> None:
    with pytest.raises(BadRequestError, match="Parquet"):
        read_parquet_bounded(body, 64 * MiB)


@pytest.fixture(scope="module")
def parquet_server(saved_sklearn):
    """A real gunicorn server with a small request limit, so the bound is four times it."""
    from tureen.serving.testing import serve_in_background

    with serve_in_background(saved_sklearn, workers=1, max_request_bytes=8 * MiB) as server:
        yield server


def test_server_answers_a_parquet_bomb_with_413_json(parquet_server, breast_cancer) -> None:
    import requests

    X, _ = breast_cancer
    ok = requests.post(f"{parquet_server.url}/invocations", data=X[:3].to_parquet(),
                       headers={"Content-Type": "application/vnd.apache.parquet"}, timeout=60)
    assert ok.status_code == 200, ok.text
    col = pa.DictionaryArray.from_arrays(pa.array(np.zeros(100_000, dtype=np.int32)), pa.array(["9" * 10_000]))
    bomb = _parquet(pa.table({name: col for name in X.columns[:3]}))  # 3 GB of digits in a few KB
    assert len(bomb) < 16_384
    r = requests.post(f"{parquet_server.url}/invocations", data=bomb,
                      headers={"Content-Type": "application/vnd.apache.parquet"}, timeout=60)
    assert r.status_code == 413
    body = r.json()
    assert "decode to" in body["message"] and "Traceback" not in r.text
    again = requests.post(f"{parquet_server.url}/invocations", data=X[:1].to_parquet(),
                          headers={"Content-Type": "application/vnd.apache.parquet"}, timeout=60)
    assert again.status_code == 200  # the worker is unharmed
