"""Entities <-> MLflow's REST JSON (proto field names, enums as names, unset fields omitted).

Both directions live here so the server (entity -> JSON) and the REST store (JSON -> entity) cannot drift
apart. Only the standard library and tureen's entity modules are imported.

Example:
    >>> exp = Experiment("1", "churn", "mlflow-artifacts:/1", "active", {"team": "a"}, 5, 6)
    >>> experiment_from_json(experiment_to_json(exp)) == exp
    True
"""

from __future__ import annotations

import math
from typing import Any, Iterable

from tureen.registry.entities import ModelVersion, RegisteredModel
from tureen.tracking.entities import (
    Dataset,
    DatasetInput,
    Experiment,
    FileInfo,
    InputTag,
    LoggedModel,
    LoggedModelInput,
    LoggedModelOutput,
    Metric,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunOutputs,
)

__all__ = [
    "experiment_to_json", "experiment_from_json", "run_to_json", "run_from_json", "run_info_to_json",
    "run_info_from_json", "metric_to_json", "metric_from_json", "logged_model_to_json", "logged_model_from_json",
    "registered_model_to_json", "registered_model_from_json", "model_version_to_json",
    "model_version_from_json", "file_info_to_json", "file_info_from_json", "double_to_json", "double_from_json",
    "kv_list", "kv_dict", "RUN_STATUS_NUMBERS", "LOGGED_MODEL_STATUS_NUMBERS",
]

#: proto enum numbers, for clients that send numbers instead of names
RUN_STATUS_NUMBERS = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}
LOGGED_MODEL_STATUS_NUMBERS = {0: "LOGGED_MODEL_STATUS_UNSPECIFIED", 1: "LOGGED_MODEL_PENDING",
                               2: "LOGGED_MODEL_READY", 3: "LOGGED_MODEL_UPLOAD_FAILED"}


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    """Drop unset fields (``None`` and empty repeated fields), as proto JSON does."""
    return {k: v for k, v in d.items() if v is not None and v != [] and v != {}}


def double_to_json(value: float) -> Any:
    """Proto JSON for a double: NaN and the infinities are strings."""
    # one comparison for the usual finite value (a page of runs converts thousands)
    if isinstance(value, float) and (value != value or value in _INFINITIES):
        if value != value:
            return "NaN"
        return "Infinity" if value > 0 else "-Infinity"
    return value


_INFINITIES = (math.inf, -math.inf)


def double_from_json(value: Any) -> float:
    if isinstance(value, str):
        return float({"Infinity": "inf", "-Infinity": "-inf"}.get(value, value))
    return float(value)


def kv_list(mapping: dict[str, Any] | None) -> list[dict[str, Any]]:
    return [{"key": k, "value": v} for k, v in (mapping or {}).items()]


def kv_dict(items: Iterable[dict[str, Any]] | None) -> dict[str, str]:
    return {str(i.get("key")): i.get("value", "") for i in (items or []) if isinstance(i, dict)}


# -- experiments ---------------------------------------------------------------------------------------------
def experiment_to_json(e: Experiment) -> dict[str, Any]:
    return _clean({"experiment_id": e.experiment_id, "name": e.name, "artifact_location": e.artifact_location,
                   "lifecycle_stage": e.lifecycle_stage, "last_update_time": e.last_update_time,
                   "creation_time": e.creation_time, "tags": kv_list(e.tags)})


def experiment_from_json(d: dict[str, Any]) -> Experiment:
    return Experiment(experiment_id=str(d.get("experiment_id")), name=d.get("name", ""),
                      artifact_location=d.get("artifact_location", ""),
                      lifecycle_stage=d.get("lifecycle_stage", "active"), tags=kv_dict(d.get("tags")),
                      creation_time=_int_or_none(d.get("creation_time")),
                      last_update_time=_int_or_none(d.get("last_update_time")))


def _int_or_none(v: Any) -> int | None:
    return None if v is None else int(v)


# -- runs ----------------------------------------------------------------------------------------------------
def metric_to_json(m: Metric) -> dict[str, Any]:
    return _clean({"key": m.key, "value": double_to_json(m.value), "timestamp": m.timestamp, "step": m.step,
                   "model_id": m.model_id}) | {"step": m.step}


def metric_from_json(d: dict[str, Any], run_id: str | None = None) -> Metric:
    return Metric(key=d.get("key", ""), value=double_from_json(d.get("value", 0.0)),
                  timestamp=int(d.get("timestamp", 0)), step=int(d.get("step", 0) or 0),
                  run_id=d.get("run_id", run_id), model_id=d.get("model_id"))


def run_info_to_json(i: RunInfo) -> dict[str, Any]:
    """A run's info, unset fields left out; built field by field (a page of runs makes many of these)."""
    info = {"run_uuid": i.run_id, "run_id": i.run_id} if i.run_id is not None else {}
    for k, v in (("run_name", i.run_name), ("experiment_id", i.experiment_id), ("user_id", i.user_id),
                 ("status", i.status), ("start_time", i.start_time), ("end_time", i.end_time),
                 ("artifact_uri", i.artifact_uri), ("lifecycle_stage", i.lifecycle_stage)):
        if v is not None:
            info[k] = v
    return info


def run_info_from_json(d: dict[str, Any]) -> RunInfo:
    status = d.get("status", "RUNNING")
    if isinstance(status, int):
        status = RUN_STATUS_NUMBERS.get(status, "RUNNING")
    return RunInfo(run_id=d.get("run_id") or d.get("run_uuid", ""), experiment_id=str(d.get("experiment_id", "")),
                   run_name=d.get("run_name"), user_id=d.get("user_id"), status=status,
                   start_time=int(d.get("start_time", 0) or 0), end_time=_int_or_none(d.get("end_time")),
                   artifact_uri=d.get("artifact_uri", ""), lifecycle_stage=d.get("lifecycle_stage", "active"))


def _dataset_input_to_json(di: DatasetInput) -> dict[str, Any]:
    ds = di.dataset
    return _clean({"tags": [{"key": t.key, "value": t.value} for t in di.tags],
                   "dataset": _clean({"name": ds.name, "digest": ds.digest, "source_type": ds.source_type,
                                      "source": ds.source, "schema": ds.schema, "profile": ds.profile})})


def run_to_json(r: Run, latest: dict[str, Any] | None = None) -> dict[str, Any]:
    """A run; ``latest`` gives the timestamp/step of each latest metric when the caller knows them (a
    :class:`Metric` or a ``(timestamp, step)`` pair per key).

    Built field by field rather than through :func:`_clean` (a page of runs is thousands of small dicts):
    the same fields, in the same order, unset ones left out."""
    d = r.data
    data: dict[str, Any] = {}
    if d.metrics:
        metrics = []
        get = (latest or {}).get
        for key, value in d.metrics.items():
            m = get(key)
            if m is None:
                ts = step = 0
            elif isinstance(m, tuple):
                ts, step = m
            else:
                ts, step = m.timestamp, m.step
            metrics.append({"key": key, "value": double_to_json(value), "timestamp": ts, "step": step})
        data["metrics"] = metrics
    if d.params:
        data["params"] = kv_list(d.params)
    if d.tags:
        data["tags"] = kv_list(d.tags)
    inputs: dict[str, Any] = {}
    if r.inputs.dataset_inputs:
        inputs["dataset_inputs"] = [_dataset_input_to_json(x) for x in r.inputs.dataset_inputs]
    if r.inputs.model_inputs:
        inputs["model_inputs"] = [{"model_id": m.model_id} for m in r.inputs.model_inputs]
    outputs: dict[str, Any] = {}
    if r.outputs.model_outputs:
        outputs["model_outputs"] = [{"model_id": o.model_id, "step": o.step} for o in r.outputs.model_outputs]
    return {"info": run_info_to_json(r.info), "data": data, "inputs": inputs, "outputs": outputs}


def run_from_json(d: dict[str, Any]) -> Run:
    data = d.get("data") or {}
    metrics = {m.get("key", ""): double_from_json(m.get("value", 0.0)) for m in data.get("metrics") or []}
    inputs = d.get("inputs") or {}
    datasets = []
    for di in inputs.get("dataset_inputs") or []:
        ds = di.get("dataset") or {}
        datasets.append(DatasetInput(Dataset(ds.get("name", ""), ds.get("digest", ""), ds.get("source_type", ""),
                                             ds.get("source", ""), ds.get("schema"), ds.get("profile")),
                                     [InputTag(t.get("key", ""), t.get("value", "")) for t in di.get("tags") or []]))
    models_in = [LoggedModelInput(m.get("model_id", "")) for m in inputs.get("model_inputs") or []]
    outs = [LoggedModelOutput(o.get("model_id", ""), int(o.get("step", 0) or 0))
            for o in (d.get("outputs") or {}).get("model_outputs") or []]
    return Run(info=run_info_from_json(d.get("info") or {}),
               data=RunData(metrics=metrics, params=kv_dict(data.get("params")), tags=kv_dict(data.get("tags"))),
               inputs=RunInputs(datasets, models_in), outputs=RunOutputs(outs))


# -- logged models -------------------------------------------------------------------------------------------
def logged_model_to_json(m: LoggedModel) -> dict[str, Any]:
    info = _clean({"model_id": m.model_id, "experiment_id": m.experiment_id, "name": m.name,
                   "creation_timestamp_ms": m.creation_timestamp, "last_updated_timestamp_ms": m.last_updated_timestamp,
                   "artifact_uri": m.artifact_location, "status": m.status, "model_type": m.model_type,
                   "source_run_id": m.source_run_id, "status_message": m.status_message, "tags": kv_list(m.tags)})
    return {"info": info, "data": _clean({"params": kv_list(m.params)})}


def logged_model_from_json(d: dict[str, Any]) -> LoggedModel:
    info = d.get("info") or {}
    status = info.get("status", "LOGGED_MODEL_PENDING")
    if isinstance(status, int):
        status = LOGGED_MODEL_STATUS_NUMBERS.get(status, "LOGGED_MODEL_PENDING")
    return LoggedModel(model_id=info.get("model_id", ""), experiment_id=str(info.get("experiment_id", "")),
                       name=info.get("name", ""), artifact_location=info.get("artifact_uri", ""),
                       creation_timestamp=int(info.get("creation_timestamp_ms", 0) or 0),
                       last_updated_timestamp=int(info.get("last_updated_timestamp_ms", 0) or 0), status=status,
                       source_run_id=info.get("source_run_id"), model_type=info.get("model_type"),
                       status_message=info.get("status_message"), tags=kv_dict(info.get("tags")),
                       params=kv_dict((d.get("data") or {}).get("params")))


# -- registry ------------------------------------------------------------------------------------------------
def model_version_to_json(v: ModelVersion) -> dict[str, Any]:
    return _clean({"name": v.name, "version": str(v.version), "creation_timestamp": v.creation_timestamp,
                   "last_updated_timestamp": v.last_updated_timestamp, "user_id": v.user_id,
                   "current_stage": v.current_stage, "description": v.description, "source": v.source,
                   "run_id": v.run_id, "status": v.status, "status_message": v.status_message,
                   "tags": kv_list(v.tags), "run_link": v.run_link, "aliases": list(v.aliases),
                   "model_id": v.model_id})


def model_version_from_json(d: dict[str, Any]) -> ModelVersion:
    return ModelVersion(name=d.get("name", ""), version=str(d.get("version", "")),
                        creation_timestamp=int(d.get("creation_timestamp", 0) or 0),
                        last_updated_timestamp=int(d.get("last_updated_timestamp", 0) or 0),
                        current_stage=d.get("current_stage", "None"), description=d.get("description"),
                        user_id=d.get("user_id"), source=d.get("source"), run_id=d.get("run_id"),
                        run_link=d.get("run_link"), status=d.get("status", "READY"),
                        status_message=d.get("status_message"), tags=kv_dict(d.get("tags")),
                        aliases=list(d.get("aliases") or []), model_id=d.get("model_id"))


def registered_model_to_json(m: RegisteredModel) -> dict[str, Any]:
    return _clean({"name": m.name, "creation_timestamp": m.creation_timestamp,
                   "last_updated_timestamp": m.last_updated_timestamp, "user_id": m.user_id,
                   "description": m.description,
                   "latest_versions": [model_version_to_json(v) for v in m.latest_versions],
                   "tags": kv_list(m.tags),
                   "aliases": [{"alias": a, "version": str(v)} for a, v in m.aliases.items()]})


def registered_model_from_json(d: dict[str, Any]) -> RegisteredModel:
    return RegisteredModel(name=d.get("name", ""), creation_timestamp=int(d.get("creation_timestamp", 0) or 0),
                           last_updated_timestamp=int(d.get("last_updated_timestamp", 0) or 0),
                           description=d.get("description"), user_id=d.get("user_id"),
                           latest_versions=[model_version_from_json(v) for v in d.get("latest_versions") or []],
                           tags=kv_dict(d.get("tags")),
                           aliases={a.get("alias", ""): str(a.get("version", "")) for a in d.get("aliases") or []})


def file_info_to_json(f: FileInfo, path: str | None = None) -> dict[str, Any]:
    return _clean({"path": f.path if path is None else path, "is_dir": f.is_dir, "file_size": f.file_size}) \
        | {"is_dir": f.is_dir}


def file_info_from_json(d: dict[str, Any]) -> FileInfo:
    size = d.get("file_size")
    return FileInfo(d.get("path", ""), bool(d.get("is_dir", False)), None if size is None else int(size))
