"""``tureen server``'s command line: every flag of the issue, loopback by default, bad values refused."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from tureen.cli import cli

FLAGS = ["--backend-store-uri", "--registry-store-uri", "--default-artifact-root", "--serve-artifacts",
         "--no-serve-artifacts", "--artifacts-destination", "--artifacts-only", "--host", "--port", "--workers",
         "--allowed-hosts", "--cors-allowed-origins", "--auth"]


def test_help_lists_every_flag_and_loopback_default():
    out = CliRunner().invoke(cli, ["server", "--help"])
    assert out.exit_code == 0, out.output
    for flag in FLAGS:
        assert flag in out.output
    assert "127.0.0.1" in out.output
    assert "server" in CliRunner().invoke(cli, ["--help"]).output


def test_bad_values_are_usage_errors():
    for args in (["--workers", "0"], ["--port", "70000"], ["--port", "abc"]):
        res = subprocess.run([sys.executable, "-m", "tureen.cli", "server", *args], capture_output=True, text=True,
                             timeout=120)
        assert res.returncode == 2, (args, res.stderr)
        assert "Traceback" not in res.stderr


def test_a_bad_database_is_one_clear_error(tmp_path):
    (tmp_path / "x.db").write_bytes(b"this is not a database" * 100)
    res = subprocess.run([sys.executable, "-m", "tureen.cli", "server", "--backend-store-uri",
                          f"sqlite:///{tmp_path}/x.db", "--port", "0"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 1 and "Error (" in res.stderr and "Traceback" not in res.stderr


def test_artifacts_only_serves_only_the_proxy(tmp_path):
    from tureen.server.app import ServerSettings, create_app

    app = create_app(ServerSettings(backend_store_uri=f"sqlite:///{tmp_path}/x.db", artifacts_only=True,
                                    artifacts_destination=str(tmp_path / "dest")))
    http = app.test_client()
    assert http.put("/api/2.0/mlflow-artifacts/artifacts/a.txt", data=b"hi").status_code == 200
    assert http.get("/api/2.0/mlflow-artifacts/artifacts/a.txt").data == b"hi"
    resp = http.get("/api/2.0/mlflow/experiments/get?experiment_id=0")
    assert resp.status_code == 503 and "artifacts-only" in resp.get_json()["message"]
    assert not (tmp_path / "x.db").exists(), "artifacts-only never opens the tracking database"
