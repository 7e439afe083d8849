"""A small Flask app with a few real tracking routes of the server's names, over a real SQLite store.

Used by the auth tests only while ``tureen.server.app.create_app`` is not available; the routes answer
what the real server answers (same paths, same JSON keys), so the auth hooks see the same traffic.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any


def make_app(tracking_uri: str) -> Any:
    from flask import Flask, Response, request

    from tureen.exceptions import TureenError
    from tureen.tracking import TrackingClient

    client = TrackingClient(tracking_uri)
    app = Flask("mini")
    app.extensions["tureen_server"] = SimpleNamespace(client=client)

    def body() -> dict[str, Any]:
        if request.method == "GET":
            return {k: request.args.get(k) for k in request.args}
        raw = request.stream.read()
        return json.loads(raw) if raw.strip() else {}

    def out(data: Any, status: int = 200) -> Any:
        return Response(json.dumps(data), status, mimetype="application/json")

    def route(path: str, method: str, fn: Any) -> None:
        for prefix in ("/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/"):
            app.add_url_rule(prefix + path, endpoint=f"{prefix}{method}{path}", view_func=fn, methods=[method])

    def exp_json(e: Any) -> dict[str, Any]:
        return {"experiment_id": e.experiment_id, "name": e.name}

    route("experiments/create", "POST", lambda: out({"experiment_id": client.create_experiment(body()["name"])}))
    route("experiments/get", "GET", lambda: out({"experiment": exp_json(client.get_experiment(body()["experiment_id"]))}))
    route("experiments/search", "POST", lambda: out({"experiments": [exp_json(e) for e in client.search_experiments()]}))

    def create_run() -> Any:
        run = client.create_run(body().get("experiment_id", "0"))
        return out({"run": {"info": {"run_id": run.info.run_id, "experiment_id": run.info.experiment_id}}})

    def get_run() -> Any:
        b = body()
        run = client.get_run(b.get("run_id") or b.get("run_uuid"))
        return out({"run": {"info": {"run_id": run.info.run_id, "experiment_id": run.info.experiment_id}}})

    def log_metric() -> Any:
        b = body()
        client.log_metric(b["run_id"], b["key"], b["value"], b.get("timestamp"))
        return out({})

    def search_runs() -> Any:
        b = body()
        runs = client.search_runs(b.get("experiment_ids") or ["0"])
        return out({"runs": [{"info": {"run_id": r.info.run_id, "experiment_id": r.info.experiment_id}}
                             for r in runs]})

    route("runs/create", "POST", create_run)
    route("runs/get", "GET", get_run)
    route("runs/log-metric", "POST", log_metric)
    route("runs/search", "POST", search_runs)

    def rm_json(m: Any) -> dict[str, Any]:
        return {"name": m.name}

    route("registered-models/create", "POST",
          lambda: out({"registered_model": rm_json(client.create_registered_model(body()["name"]))}))
    route("registered-models/get", "GET",
          lambda: out({"registered_model": rm_json(client.get_registered_model(body()["name"]))}))
    route("registered-models/search", "GET",
          lambda: out({"registered_models": [rm_json(m) for m in client.search_registered_models()]}))

    def rename() -> Any:
        b = body()
        return out({"registered_model": rm_json(client.rename_registered_model(b["name"], b["new_name"]))})

    def delete_model() -> Any:
        client.delete_registered_model(body()["name"])
        return out({})

    route("registered-models/rename", "POST", rename)
    route("registered-models/delete", "DELETE", delete_model)

    store: dict[str, bytes] = {}

    def put_artifact(artifact_path: str) -> Any:
        store[artifact_path] = request.stream.read()
        return out({})

    def get_artifact(artifact_path: str) -> Any:
        return Response(store.get(artifact_path, b""), 200)

    for prefix in ("/api/2.0/mlflow-artifacts/", "/ajax-api/2.0/mlflow-artifacts/"):
        app.add_url_rule(prefix + "artifacts/<path:artifact_path>", endpoint=f"{prefix}put", view_func=put_artifact,
                         methods=["PUT"])
        app.add_url_rule(prefix + "artifacts/<path:artifact_path>", endpoint=f"{prefix}get", view_func=get_artifact,
                         methods=["GET"])
    app.add_url_rule("/health", endpoint="health", view_func=lambda: Response("OK", mimetype="text/plain"))

    @app.errorhandler(TureenError)
    def on_error(exc: TureenError) -> Any:
        return out(exc.to_json(), exc.http_status)

    return app
