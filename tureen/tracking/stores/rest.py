"""The REST store: tracking, logged models and the registry over MLflow's REST API 2.0.

Serves ``http://`` and ``https://`` tracking URIs (registered in :mod:`tureen.tracking.stores`), so
:class:`~tureen.tracking.client.TrackingClient`, the fluent API, ``runs:/`` and ``models:/`` URIs work against
``tureen server`` and against ``mlflow server``. Method names, parameters and results are those of the SQL
store. Transport rules (retries, timeouts, auth) are in :mod:`tureen.tracking.stores._http`.

Example:
    >>> store = RestStore("http://127.0.0.1:5000")  # doctest: +SKIP
    >>> store.create_experiment("churn")  # doctest: +SKIP
    '1'
"""

from __future__ import annotations

from typing import Any, Sequence
from urllib.parse import quote

from tureen.exceptions import InvalidParameterError, TureenError
from tureen.tracking.stores import _proto as P
from tureen.tracking.entities import (
    Experiment,
    LoggedModel,
    LoggedModelOutput,
    Metric,
    PagedList,
    Run,
    RunInfo,
    ViewType,
)
from tureen.tracking.stores._http import HttpClient

__all__ = ["RestStore", "last_base_url"]

_API = "/api/2.0/mlflow"
_last_base: list[str] = []


def last_base_url() -> str | None:
    """The server of the most recently opened REST store (resolves host-less ``mlflow-artifacts:/`` URIs)."""
    return _last_base[-1] if _last_base else None


def _view(value: Any) -> str:
    return {1: "ACTIVE_ONLY", 2: "DELETED_ONLY", 3: "ALL"}[ViewType.from_any(value)]


def _pairs(items: Any, check: Any = None) -> list[dict[str, Any]]:
    """``[{"key", "value"}]`` from a dict, entities or pairs; ``check`` validates (and truncates) each pair."""
    if items is None:
        return []
    pairs = items.items() if isinstance(items, dict) else [(it.key, it.value) if hasattr(it, "key") else it
                                                            for it in items]
    out = []
    for k, v in pairs:
        if check is not None:
            k, v = check(k, v)
        out.append({"key": k, "value": str(v)})
    return out


def _v() -> Any:
    from tureen.tracking import _validation

    return _validation


def _metric_json(m: Any) -> dict[str, Any]:
    """One metric point, checked here exactly as the SQL store checks it (so every backend refuses the same
    values, whatever the server would accept), NaN sent as MLflow's ``"NaN"``."""
    from tureen.tracking._validation import validate_metric

    if isinstance(m, Metric):
        key, value, ts, step, model_id = m.key, m.value, m.timestamp, m.step or 0, m.model_id
    else:
        key, value, ts, step = (list(m) + [0])[:4]
        model_id = None
    validate_metric(key, value, ts, step)
    d = {"key": key, "value": P.double_to_json(float(value)), "timestamp": int(ts), "step": int(step or 0)}
    if model_id:
        d["model_id"] = model_id
    return d


class RestStore:
    """A tracking + registry store answered by a tracking server.

    Args:
        uri: the server, ``http(s)://host:port[/prefix]``.
        artifact_root: ignored (the server decides where artifacts go).
    """

    def __init__(self, uri: str, artifact_root: str | None = None) -> None:
        if not uri.startswith(("http://", "https://")):
            raise InvalidParameterError(f"A REST tracking URI must start with http:// or https://, got {uri!r}")
        self.uri = uri.rstrip("/")
        self.http = HttpClient(self.uri)
        _last_base.append(self.uri)
        del _last_base[:-1]

    def close(self) -> None:
        pass

    def _get(self, path: str, **params: Any) -> dict[str, Any]:
        return self.http.call("GET", f"{_API}/{path}", params={k: v for k, v in params.items() if v is not None})

    def _post(self, path: str, body: dict[str, Any], method: str = "POST") -> dict[str, Any]:
        return self.http.call(method, f"{_API}/{path}", {k: v for k, v in body.items() if v is not None})

    # ==================================================================================================
    # experiments
    # ==================================================================================================
    def create_experiment(self, name: str, artifact_location: str | None = None,
                          tags: dict[str, Any] | None = None) -> str:
        out = self._post("experiments/create", {"name": name, "artifact_location": artifact_location,
                                                "tags": _pairs(tags) or None})
        return str(out["experiment_id"])

    def get_experiment(self, experiment_id: str | int) -> Experiment:
        return P.experiment_from_json(self._get("experiments/get", experiment_id=str(experiment_id))["experiment"])

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        try:
            out = self._get("experiments/get-by-name", experiment_name=name)
        except TureenError as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise
        return P.experiment_from_json(out["experiment"])

    def delete_experiment(self, experiment_id: str | int) -> None:
        self._post("experiments/delete", {"experiment_id": str(experiment_id)})

    def restore_experiment(self, experiment_id: str | int) -> None:
        self._post("experiments/restore", {"experiment_id": str(experiment_id)})

    def rename_experiment(self, experiment_id: str | int, new_name: str) -> None:
        self._post("experiments/update", {"experiment_id": str(experiment_id), "new_name": new_name})

    def set_experiment_tag(self, experiment_id: str | int, key: str, value: Any) -> None:
        self._post("experiments/set-experiment-tag", {"experiment_id": str(experiment_id), "key": key,
                                                      "value": str(value)})

    def delete_experiment_tag(self, experiment_id: str | int, key: str) -> None:
        self._post("experiments/delete-experiment-tag", {"experiment_id": str(experiment_id), "key": key})

    def search_experiments(self, view_type: Any = ViewType.ACTIVE_ONLY, max_results: int = 1000,
                           filter_string: str | None = None, order_by: list[str] | None = None,
                           page_token: str | None = None) -> PagedList:
        out = self._post("experiments/search", {"view_type": _view(view_type), "max_results": max_results,
                                                "filter": filter_string or None, "order_by": order_by or None,
                                                "page_token": page_token or None})
        return PagedList([P.experiment_from_json(e) for e in out.get("experiments", [])],
                         out.get("next_page_token") or None)

    # ==================================================================================================
    # runs
    # ==================================================================================================
    def create_run(self, experiment_id: str | int, user_id: str | None = None, start_time: int | None = None,
                   tags: dict[str, Any] | None = None, run_name: str | None = None) -> Run:
        import time

        from tureen.tracking._validation import validate_run_name

        validate_run_name(run_name)
        if user_id is None:  # the client's user, as MLflow's client sends it
            import getpass

            try:
                user_id = getpass.getuser()
            except (KeyError, OSError):
                user_id = "unknown"
        tag_list = _pairs(tags, _v().validate_tag)
        if run_name is not None and not any(t["key"] == "mlflow.runName" for t in tag_list):
            tag_list.append({"key": "mlflow.runName", "value": run_name})
        out = self._post("runs/create", {"experiment_id": str(experiment_id), "user_id": user_id,
                                         "start_time": int(time.time() * 1000) if start_time is None else start_time,
                                         "tags": tag_list or None, "run_name": run_name})
        return P.run_from_json(out["run"])

    def get_run(self, run_id: str) -> Run:
        return P.run_from_json(self._get("runs/get", run_id=run_id)["run"])

    def update_run_info(self, run_id: str, run_status: str | None = None, end_time: int | None = None,
                        run_name: str | None = None) -> RunInfo:
        out = self._post("runs/update", {"run_id": run_id, "run_uuid": run_id, "status": run_status,
                                         "end_time": end_time, "run_name": run_name})
        return P.run_info_from_json(out["run_info"])

    def delete_run(self, run_id: str) -> None:
        self._post("runs/delete", {"run_id": run_id})

    def restore_run(self, run_id: str) -> None:
        self._post("runs/restore", {"run_id": run_id})

    def log_param(self, run_id: str, key: str, value: Any) -> None:
        _v().validate_run_id(run_id)
        key, value = _v().validate_param(key, value)
        self._post("runs/log-parameter", {"run_id": run_id, "run_uuid": run_id, "key": key, "value": value})

    def log_metric(self, run_id: str, key: str, value: float, timestamp: int | None = None, step: int = 0,
                   model_id: str | None = None) -> None:
        import time

        _v().validate_run_id(run_id)
        point = _metric_json(Metric(key, value, int(time.time() * 1000) if timestamp is None else timestamp,
                                    step or 0, run_id, model_id))
        self._post("runs/log-metric", {"run_id": run_id, "run_uuid": run_id, **point})

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        _v().validate_run_id(run_id)
        key, value = _v().validate_tag(key, value)
        self._post("runs/set-tag", {"run_id": run_id, "run_uuid": run_id, "key": key, "value": value})

    def delete_tag(self, run_id: str, key: str) -> None:
        self._post("runs/delete-tag", {"run_id": run_id, "key": key})

    def log_batch(self, run_id: str, metrics: Sequence[Any] = (), params: Sequence[Any] = (),
                  tags: Sequence[Any] = ()) -> None:
        _v().validate_run_id(run_id)
        metrics, params, tags = list(metrics or ()), list(params or ()), list(tags or ())
        _v().validate_batch_sizes(len(metrics), len(params), len(tags))
        self._post("runs/log-batch", {"run_id": run_id, "metrics": [_metric_json(m) for m in metrics],
                                      "params": _pairs(params, _v().validate_param),
                                      "tags": _pairs(tags, _v().validate_tag)})

    def get_metric_history(self, run_id: str, metric_key: str, max_results: int | None = None,
                           page_token: str | None = None) -> PagedList:
        if max_results is not None:
            out = self._get("metrics/get-history", run_id=run_id, run_uuid=run_id, metric_key=metric_key,
                            max_results=max_results, page_token=page_token)
            return PagedList([P.metric_from_json(m, run_id) for m in out.get("metrics", [])],
                             out.get("next_page_token") or None)
        items: list[Metric] = []
        token = page_token
        while True:  # every point: page through (a server may cap one answer)
            out = self._get("metrics/get-history", run_id=run_id, run_uuid=run_id, metric_key=metric_key,
                            max_results=25000, page_token=token)
            items.extend(P.metric_from_json(m, run_id) for m in out.get("metrics", []))
            token = out.get("next_page_token")
            if not token:
                # in step order, as the SQL store gives it (mlflow server orders by timestamp); stable sort
                return PagedList(sorted(items, key=lambda m: (m.step, m.timestamp)), None)

    def search_runs(self, experiment_ids: Sequence[str | int], filter_string: str | None = None,
                    run_view_type: Any = ViewType.ACTIVE_ONLY, max_results: int = 1000,
                    order_by: list[str] | None = None, page_token: str | None = None) -> PagedList:
        if isinstance(experiment_ids, (str, int)):
            experiment_ids = [experiment_ids]
        out = self._post("runs/search", {"experiment_ids": [str(e) for e in experiment_ids],
                                         "filter": filter_string or None, "run_view_type": _view(run_view_type),
                                         "max_results": max_results, "order_by": order_by or None,
                                         "page_token": page_token or None})
        return PagedList([P.run_from_json(r) for r in out.get("runs", [])], out.get("next_page_token") or None)

    def log_inputs(self, run_id: str, datasets: Sequence[Any] | None = None,
                   models: Sequence[Any] | None = None) -> None:
        ds = []
        for d in datasets or ():
            if isinstance(d, dict):
                ds.append(d)
            else:
                data = d.to_dict()
                data["tags"] = [{"key": t["key"], "value": t["value"]} for t in data.get("tags", [])]
                data["dataset"] = {k: v for k, v in data["dataset"].items() if v is not None}
                ds.append(data)
        ms = [{"model_id": m if isinstance(m, str) else m.model_id} for m in models or ()]
        self._post("runs/log-inputs", {"run_id": run_id, "datasets": ds or None, "models": ms or None})

    def log_outputs(self, run_id: str, models: Sequence[LoggedModelOutput]) -> None:
        self._post("runs/outputs", {"run_id": run_id, "models": [{"model_id": m.model_id, "step": int(m.step)}
                                                                 for m in models]})

    def record_logged_model(self, run_id: str, model_json: str) -> None:
        self._post("runs/log-model", {"run_id": run_id, "model_json": model_json})

    # ==================================================================================================
    # logged models
    # ==================================================================================================
    def create_logged_model(self, experiment_id: str | int, name: str | None = None,
                            source_run_id: str | None = None, tags: dict[str, Any] | None = None,
                            params: dict[str, Any] | None = None, model_type: str | None = None) -> LoggedModel:
        out = self._post("logged-models", {"experiment_id": str(experiment_id), "name": name,
                                           "source_run_id": source_run_id, "tags": _pairs(tags) or None,
                                           "params": _pairs(params) or None, "model_type": model_type})
        return P.logged_model_from_json(out["model"])

    @staticmethod
    def _mid(model_id: str) -> str:
        return quote(model_id, safe="")

    def get_logged_model(self, model_id: str) -> LoggedModel:
        return P.logged_model_from_json(self._get(f"logged-models/{self._mid(model_id)}")["model"])

    def finalize_logged_model(self, model_id: str, status: str) -> LoggedModel:
        out = self._post(f"logged-models/{self._mid(model_id)}", {"model_id": model_id, "status": status}, "PATCH")
        return P.logged_model_from_json(out["model"])

    def log_logged_model_params(self, model_id: str, params: dict[str, Any]) -> None:
        self._post(f"logged-models/{self._mid(model_id)}/params", {"model_id": model_id, "params": _pairs(params)})

    def set_logged_model_tags(self, model_id: str, tags: dict[str, Any]) -> None:
        self._post(f"logged-models/{self._mid(model_id)}/tags", {"tags": _pairs(tags)}, "PATCH")

    def delete_logged_model(self, model_id: str) -> None:
        self._post(f"logged-models/{self._mid(model_id)}", {}, "DELETE")

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        self._post(f"logged-models/{self._mid(model_id)}/tags/{quote(key, safe='')}", {}, "DELETE")

    def search_logged_models(self, experiment_ids: Sequence[str | int], filter_string: str | None = None,
                             max_results: int = 50, order_by: Sequence[Any] | None = None,
                             page_token: str | None = None) -> PagedList:
        if isinstance(experiment_ids, (str, int)):
            experiment_ids = [experiment_ids]
        orders = []
        for o in order_by or ():
            if isinstance(o, dict):
                orders.append(o)
            else:
                field, _, direction = str(o).strip().partition(" ")
                orders.append({"field_name": field, "ascending": direction.strip().upper() != "DESC"})
        out = self._post("logged-models/search", {"experiment_ids": [str(e) for e in experiment_ids],
                                                  "filter": filter_string or None, "max_results": max_results,
                                                  "order_by": orders or None, "page_token": page_token or None})
        return PagedList([P.logged_model_from_json(m) for m in out.get("models", [])],
                         out.get("next_page_token") or None)

    def find_logged_models(self, source_run_id: str, name: str | None = None) -> list[LoggedModel]:
        """The logged models of a run (optionally of one name), newest first."""
        run = self.get_run(source_run_id)
        flt = f"source_run_id = '{source_run_id}'"
        if name is not None:
            if "'" in name:
                return [m for m in self.find_logged_models(source_run_id) if m.name == name]
            flt += f" AND name = '{name}'"
        out: list[LoggedModel] = []
        token = None
        while True:
            page = self.search_logged_models([run.info.experiment_id], flt, 100, None, token)
            out.extend(page)
            token = page.token
            if not token:
                break
        return sorted(out, key=lambda m: m.creation_timestamp, reverse=True)

    # ==================================================================================================
    # registry
    # ==================================================================================================
    def create_registered_model(self, name: str, tags: dict[str, Any] | None = None,
                                description: str | None = None) -> Any:
        out = self._post("registered-models/create", {"name": name, "tags": _pairs(tags) or None,
                                                      "description": description})
        return P.registered_model_from_json(out["registered_model"])

    def get_registered_model(self, name: str) -> Any:
        return P.registered_model_from_json(self._get("registered-models/get", name=name)["registered_model"])

    def rename_registered_model(self, name: str, new_name: str) -> Any:
        out = self._post("registered-models/rename", {"name": name, "new_name": new_name})
        return P.registered_model_from_json(out["registered_model"])

    def update_registered_model(self, name: str, description: str | None) -> Any:
        out = self._post("registered-models/update", {"name": name, "description": description or ""}, "PATCH")
        return P.registered_model_from_json(out["registered_model"])

    def delete_registered_model(self, name: str) -> None:
        self._post("registered-models/delete", {"name": name}, "DELETE")

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        self._post("registered-models/set-tag", {"name": name, "key": key, "value": str(value)})

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self._post("registered-models/delete-tag", {"name": name, "key": key}, "DELETE")

    def search_registered_models(self, filter_string: str | None = None, max_results: int = 100,
                                 order_by: list[str] | None = None, page_token: str | None = None) -> PagedList:
        out = self._get("registered-models/search", filter=filter_string or None, max_results=max_results,
                        order_by=order_by or None, page_token=page_token or None)
        return PagedList([P.registered_model_from_json(m) for m in out.get("registered_models", [])],
                         out.get("next_page_token") or None)

    def get_latest_versions(self, name: str, stages: Sequence[str] | None = None) -> list[Any]:
        out = self._post("registered-models/get-latest-versions", {"name": name, "stages": list(stages or []) or None})
        return [P.model_version_from_json(v) for v in out.get("model_versions", [])]

    def create_model_version(self, name: str, source: str, run_id: str | None = None,
                             tags: dict[str, Any] | None = None, run_link: str | None = None,
                             description: str | None = None, model_id: str | None = None,
                             storage_location: str | None = None) -> Any:
        out = self._post("model-versions/create", {"name": name, "source": source, "run_id": run_id,
                                                   "tags": _pairs(tags) or None, "run_link": run_link,
                                                   "description": description, "model_id": model_id})
        return P.model_version_from_json(out["model_version"])

    def get_model_version(self, name: str, version: str | int) -> Any:
        return P.model_version_from_json(self._get("model-versions/get", name=name,
                                                   version=str(version))["model_version"])

    def update_model_version(self, name: str, version: str | int, description: str | None) -> Any:
        out = self._post("model-versions/update", {"name": name, "version": str(version),
                                                   "description": description or ""}, "PATCH")
        return P.model_version_from_json(out["model_version"])

    def transition_model_version_stage(self, name: str, version: str | int, stage: str,
                                       archive_existing_versions: bool = False) -> Any:
        out = self._post("model-versions/transition-stage", {"name": name, "version": str(version), "stage": stage,
                                                             "archive_existing_versions":
                                                                 bool(archive_existing_versions)})
        return P.model_version_from_json(out["model_version"])

    def delete_model_version(self, name: str, version: str | int) -> None:
        self._post("model-versions/delete", {"name": name, "version": str(version)}, "DELETE")

    def get_model_version_download_uri(self, name: str, version: str | int) -> str:
        return self._get("model-versions/get-download-uri", name=name, version=str(version))["artifact_uri"]

    def set_model_version_tag(self, name: str, version: str | int, key: str, value: Any) -> None:
        self._post("model-versions/set-tag", {"name": name, "version": str(version), "key": key,
                                              "value": str(value)})

    def delete_model_version_tag(self, name: str, version: str | int, key: str) -> None:
        self._post("model-versions/delete-tag", {"name": name, "version": str(version), "key": key}, "DELETE")

    def search_model_versions(self, filter_string: str | None = None, max_results: int = 10000,
                              order_by: list[str] | None = None, page_token: str | None = None) -> PagedList:
        out = self._get("model-versions/search", filter=filter_string or None, max_results=max_results,
                        order_by=order_by or None, page_token=page_token or None)
        return PagedList([P.model_version_from_json(v) for v in out.get("model_versions", [])],
                         out.get("next_page_token") or None)

    def set_registered_model_alias(self, name: str, alias: str, version: str | int) -> None:
        self._post("registered-models/alias", {"name": name, "alias": alias, "version": str(version)})

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        self._post("registered-models/alias", {"name": name, "alias": alias}, "DELETE")

    def get_model_version_by_alias(self, name: str, alias: str) -> Any:
        return P.model_version_from_json(self._get("registered-models/alias", name=name,
                                                   alias=alias)["model_version"])

    def get_registered_model_alias_history(self, name: str, alias: str | None = None) -> list[Any]:
        raise TureenError("The alias history is not part of MLflow's REST API: read it on the server's own store",
                          error_code="NOT_IMPLEMENTED", http_status=501)

    # ==================================================================================================
    # artifacts
    # ==================================================================================================
    def list_run_artifacts(self, run_id: str, path: str | None = None) -> list[Any]:
        out = self._get("artifacts/list", run_id=run_id, run_uuid=run_id, path=path or None)
        return [P.file_info_from_json(f) for f in out.get("files", [])]


