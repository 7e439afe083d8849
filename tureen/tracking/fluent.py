"""The fluent tracking API, re-exported as ``tureen.<name>`` (``tureen.start_run``, ``tureen.log_metric`` …).

It keeps an *active experiment* and a stack of *active runs* (per thread), as MLflow's fluent API does:
``log_*`` calls go to the active run and start one if there is none.

Example:
    >>> import tureen  # doctest: +SKIP
    >>> tureen.set_experiment("churn")  # doctest: +SKIP
    >>> with tureen.start_run() as run:  # doctest: +SKIP
    ...     tureen.log_param("C", 0.5)
    ...     tureen.log_metric("auc", 0.91, step=3)
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
from typing import Any, Sequence

from tureen import _FLUENT_NAMES
from tureen.exceptions import InvalidParameterError, InvalidStateError, ResourceNotFoundError
from tureen.tracking import _config
from tureen.tracking.client import TrackingClient
from tureen.tracking.entities import Experiment, Metric, Run, RunStatus, ViewType

#: the names ``tureen`` re-exports from here (listed once, in ``tureen._FLUENT_NAMES``), and the client
__all__ = [*_FLUENT_NAMES, "TrackingClient"]

PARENT_RUN_ID_TAG = "mlflow.parentRunId"
_state = threading.local()
_active_experiment_id: str | None = None
_active_experiment_store: str | None = None  # the tracking URI the active experiment id belongs to
_last_active_run_id: str | None = None
_clients: dict[tuple[str, str], TrackingClient] = {}
_atexit_registered = False


def _stack() -> list["ActiveRun"]:
    stack = getattr(_state, "stack", None)
    if stack is None:
        stack = _state.stack = []
    return stack


def _client() -> TrackingClient:
    key = (_config.get_tracking_uri(), _config.get_registry_uri())
    client = _clients.get(key)
    if client is None:
        client = _clients[key] = TrackingClient(*key)
    return client


# -- URIs ---------------------------------------------------------------------------------------------------
def set_tracking_uri(uri: str | os.PathLike[str] | None) -> None:
    """Point tracking (and, unless set separately, the registry) at ``uri``.

    Example:
        >>> set_tracking_uri("sqlite:////tmp/tureen-doc.db")  # doctest: +SKIP
    """
    global _active_experiment_id
    if uri is not None and not isinstance(uri, (str, os.PathLike)):
        raise InvalidParameterError(f"A tracking URI must be a string or a path, got {type(uri).__name__}")
    if uri is not None and os.fspath(uri) != _config.get_tracking_uri():
        _active_experiment_id = None  # experiment ids belong to one store
    _config.set_tracking_uri(uri)


def get_tracking_uri() -> str:
    """The tracking URI in effect (default: ``sqlite:///$TUREEN_HOME/tureen.db``)."""
    return _config.get_tracking_uri()


def is_tracking_uri_set() -> bool:
    """Whether a tracking URI was chosen (``set_tracking_uri`` or an environment variable), not defaulted."""
    return _config.tracking_uri_source()[1] != "default"


def set_registry_uri(uri: str | os.PathLike[str] | None) -> None:
    _config.set_registry_uri(uri)


def get_registry_uri() -> str:
    return _config.get_registry_uri()


# -- experiments ---------------------------------------------------------------------------------------------
def create_experiment(name: str, artifact_location: str | None = None, tags: dict[str, Any] | None = None) -> str:
    return _client().create_experiment(name, artifact_location, tags)


def get_experiment(experiment_id: str) -> Experiment:
    return _client().get_experiment(experiment_id)


def get_experiment_by_name(name: str) -> Experiment | None:
    return _client().get_experiment_by_name(name)


def delete_experiment(experiment_id: str) -> None:
    _client().delete_experiment(experiment_id)


def _all_pages(fetch: Any, max_results: int | None, page_size: int) -> list[Any]:
    out: list[Any] = []
    token = None
    while max_results is None or len(out) < max_results:
        size = page_size if max_results is None else min(page_size, max_results - len(out))
        page = fetch(size, token)
        out.extend(page)
        token = page.token
        if not token:
            break
    return out


def search_experiments(view_type: Any = ViewType.ACTIVE_ONLY, max_results: int | None = None,
                       filter_string: str | None = None, order_by: list[str] | None = None) -> list[Experiment]:
    """Every experiment matching ``filter_string`` (all pages; at most ``max_results``), as a list.

    Example:
        >>> search_experiments(filter_string="name LIKE 'churn%'")  # doctest: +SKIP
        [<Experiment ...>]
    """
    client = _client()
    return _all_pages(lambda n, t: client.search_experiments(view_type, n, filter_string, order_by, t),
                      max_results, 1000)


def list_experiments(view_type: Any = ViewType.ACTIVE_ONLY, max_results: int | None = None) -> list[Experiment]:
    """Deprecated (MLflow 1.x): :func:`search_experiments` without a filter."""
    from tureen.tracking.client import _deprecated

    _deprecated("list_experiments", "search_experiments")
    client = _client()
    return _all_pages(lambda n, t: client.search_experiments(view_type, n, None, None, t), max_results, 1000)


def set_experiment_tag(key: str, value: Any) -> None:
    """Tag the active experiment (the default experiment when none was set)."""
    _client().set_experiment_tag(_current_experiment_id(), key, value)


def set_experiment_tags(tags: dict[str, Any]) -> None:
    for key, value in tags.items():
        set_experiment_tag(key, value)


def delete_experiment_tag(key: str) -> None:
    """Remove a tag of the active experiment."""
    _client().delete_experiment_tag(_current_experiment_id(), key)


def restore_experiment(experiment_id: str) -> None:
    _client().restore_experiment(experiment_id)


def set_experiment(experiment_name: str | None = None, experiment_id: str | None = None) -> Experiment:
    """Make an experiment active, creating it (by name) if it does not exist.

    Example:
        >>> set_experiment("churn").name  # doctest: +SKIP
        'churn'
    """
    global _active_experiment_id, _active_experiment_store
    if (experiment_name is None) == (experiment_id is None):
        raise InvalidParameterError("Give exactly one of experiment_name and experiment_id")
    client = _client()
    if experiment_id is not None:
        exp = client.get_experiment(str(experiment_id))
    else:
        exp = client.get_experiment_by_name(experiment_name)  # type: ignore[arg-type]
        if exp is None:
            try:
                client.create_experiment(experiment_name)  # type: ignore[arg-type]
            except Exception as exc:  # another process created it first
                if getattr(exc, "error_code", None) != "RESOURCE_ALREADY_EXISTS":
                    raise
            exp = client.get_experiment_by_name(experiment_name)  # type: ignore[arg-type]
            assert exp is not None
    if exp.lifecycle_stage != "active":
        raise InvalidParameterError(f"Cannot set a deleted experiment {exp.name!r} as the active experiment; restore "
                                    "it first (TrackingClient().restore_experiment) or use another name")
    _active_experiment_id = exp.experiment_id
    _active_experiment_store = _config.get_tracking_uri()
    return exp


def _current_experiment_id() -> str:
    # an id set for another store (the URI changed through TUREEN_TRACKING_URI) means nothing here
    if _active_experiment_id is not None and _active_experiment_store == _config.get_tracking_uri():
        return _active_experiment_id
    if os.environ.get("TUREEN_EXPERIMENT_ID"):
        return os.environ["TUREEN_EXPERIMENT_ID"]
    if os.environ.get("TUREEN_EXPERIMENT_NAME"):
        return set_experiment(os.environ["TUREEN_EXPERIMENT_NAME"]).experiment_id
    return "0"


# -- runs --------------------------------------------------------------------------------------------------
class ActiveRun(Run):
    """The run returned by :func:`start_run`; as a context manager it ends the run on exit,
    ``FINISHED`` normally and ``FAILED`` when an exception escapes (``KILLED`` on Ctrl-C)."""

    def __init__(self, run: Run) -> None:
        super().__init__(info=run.info, data=run.data, inputs=run.inputs, outputs=run.outputs)

    def __enter__(self) -> "ActiveRun":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        if exc_type is None:
            status = RunStatus.FINISHED
        elif issubclass(exc_type, KeyboardInterrupt):
            status = RunStatus.KILLED
        else:
            status = RunStatus.FAILED
        # end this run, and any nested run left open inside it
        stack = _stack()
        if any(r.info.run_id == self.info.run_id for r in stack):
            while stack and stack[-1].info.run_id != self.info.run_id:
                end_run(status)
            end_run(status)
        return False


def _source_tags() -> dict[str, str]:
    import getpass

    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001
        user = "unknown"
    arg0 = sys.argv[0] if sys.argv else ""
    source = arg0 if arg0 in ("", "-c", "-m") or not arg0 else os.path.abspath(arg0)
    source = source or "<console>"
    return {"mlflow.user": user, "mlflow.source.name": source, "mlflow.source.type": "LOCAL"}


def start_run(run_id: str | None = None, experiment_id: str | None = None, run_name: str | None = None,
              nested: bool = False, parent_run_id: Any = None, tags: dict[str, Any] | None = None,
              description: str | None = None, log_system_metrics: bool | None = None) -> ActiveRun:
    """Start a new run (or resume ``run_id``) and make it active.

    The positional order is MLflow 3's (``run_id, experiment_id, run_name, nested, parent_run_id, tags``);
    a dict in the fifth place is taken as ``tags``, the order of MLflow 1.x (``run_id, experiment_id,
    run_name, nested, tags``), since a parent run id is never a dict.

    Raises:
        InvalidStateError: a run is already active and ``nested`` is false.

    Example:
        >>> with start_run(run_name="baseline") as run:  # doctest: +SKIP
        ...     log_metric("auc", 0.9)
    """
    global _atexit_registered, _last_active_run_id
    if isinstance(parent_run_id, dict):
        if tags is not None:
            raise InvalidParameterError("start_run got tags twice (a dict as parent_run_id and tags=)")
        parent_run_id, tags = None, parent_run_id
    stack = _stack()
    if stack and not nested:
        raise InvalidStateError(f"Run with UUID {stack[-1].info.run_id} is already active. To start a nested run, "
                                "call start_run with nested=True; or end the active run first with end_run()")
    client = _client()
    run_id = run_id or os.environ.get("TUREEN_RUN_ID") or None
    if run_id:
        existing = client.get_run(run_id)
        if existing.info.lifecycle_stage != "active":
            raise InvalidParameterError(f"Cannot start run with ID {run_id}: it is deleted")
        if experiment_id is not None and str(experiment_id) != existing.info.experiment_id:
            raise InvalidParameterError(f"Run {run_id} belongs to experiment {existing.info.experiment_id}, not "
                                        f"{experiment_id}")
        if existing.info.status != RunStatus.RUNNING or run_name is not None:
            client._store.update_run_info(run_id, run_status=RunStatus.RUNNING, run_name=run_name)
        from tureen.tracking._orphans import PROCESS_TAG, process_tag

        client.log_batch(run_id, tags=[*(tags or {}).items(), (PROCESS_TAG, process_tag())])
        run = client.get_run(run_id)
    else:
        parent = parent_run_id or (stack[-1].info.run_id if stack and nested else None)
        if parent_run_id is not None:
            parent_run = client.get_run(parent_run_id)
            if parent_run.info.lifecycle_stage != "active":
                raise InvalidParameterError(f"Parent run {parent_run_id} is deleted")
        from tureen.tracking._orphans import PROCESS_TAG, process_tag

        all_tags: dict[str, Any] = _source_tags()
        # which process runs it, so a run left RUNNING by a killed process can be told apart (tureen runs)
        all_tags[PROCESS_TAG] = process_tag()
        if parent:
            all_tags[PARENT_RUN_ID_TAG] = parent
        if description:
            all_tags["mlflow.note.content"] = description
        all_tags.update(tags or {})
        exp_id = str(experiment_id) if experiment_id is not None else _current_experiment_id()
        run = client.create_run(exp_id, tags=all_tags, run_name=run_name)
    active = ActiveRun(run)
    stack.append(active)
    _last_active_run_id = active.info.run_id
    if not _atexit_registered:
        atexit.register(_end_runs_at_exit)
        _atexit_registered = True
    return active


def _end_runs_at_exit() -> None:
    try:
        while _stack():
            end_run()
    except Exception:  # noqa: BLE001 - at interpreter exit the store may be gone; nothing to report to
        pass


def end_run(status: str = RunStatus.FINISHED) -> None:
    """End the active run (``FINISHED`` unless told otherwise). No-op when no run is active."""
    global _last_active_run_id
    stack = _stack()
    if not stack:
        return
    run = stack[-1]
    _last_active_run_id = run.info.run_id  # as MLflow: the run ended last is the last active run
    try:
        _client().set_terminated(run.info.run_id, status)
    finally:
        stack.pop()


def active_run() -> ActiveRun | None:
    stack = _stack()
    return stack[-1] if stack else None


def get_parent_run(run_id: str) -> Run | None:
    """The parent of a nested run, or None for a top-level run."""
    return _client().get_parent_run(run_id)


def last_active_run() -> Run | None:
    """The active run, else the last run started in this process (fetched fresh)."""
    run = active_run()
    if run is not None:
        return _client().get_run(run.info.run_id)
    return _client().get_run(_last_active_run_id) if _last_active_run_id else None


def _run_id() -> str:
    run = active_run()
    return run.info.run_id if run is not None else start_run().info.run_id


# -- logging -------------------------------------------------------------------------------------------------
def _now() -> int:
    return int(time.time() * 1000)


# ``synchronous`` is accepted in MLflow's places: every write here is synchronous (the store commits it)
def log_param(key: str, value: Any, synchronous: bool | None = None) -> Any:
    """Log a parameter of the active run (immutable: the same value again is fine, another is an error)."""
    return _client().log_param(_run_id(), key, value)


def log_params(params: dict[str, Any], synchronous: bool | None = None, run_id: str | None = None) -> None:
    _client().log_batch(run_id or _run_id(), params=list(params.items()))


def _model_id(model_id: str | None) -> str | None:
    return model_id if model_id is not None else _active_model_id


def log_metric(key: str, value: float, step: int | None = None, synchronous: bool | None = None,
               timestamp: int | None = None, run_id: str | None = None, model_id: str | None = None,
               dataset: Any = None) -> None:
    """Log one metric point of the active run (or of ``run_id``); MLflow's parameters and order.

    Example:
        >>> log_metric("auc", 0.91, step=3)  # doctest: +SKIP
    """
    _client()._store.log_metric(run_id or _run_id(), key, value, timestamp if timestamp is not None else _now(),
                                step or 0, _model_id(model_id))


def log_metrics(metrics: dict[str, float], step: int | None = None, synchronous: bool | None = None,
                run_id: str | None = None, timestamp: int | None = None, model_id: str | None = None,
                dataset: Any = None) -> None:
    ts = timestamp if timestamp is not None else _now()
    mid = _model_id(model_id)
    _client().log_batch(run_id or _run_id(),
                        metrics=[Metric(k, v, ts, step or 0, model_id=mid) for k, v in metrics.items()])


def set_tag(key: str, value: Any, synchronous: bool | None = None) -> None:
    _client().set_tag(_run_id(), key, value)


def set_tags(tags: dict[str, Any], synchronous: bool | None = None) -> None:
    _client().log_batch(_run_id(), tags=list(tags.items()))


def flush_async_logging() -> None:
    """MLflow's flush of asynchronous logging: nothing to do, every write here is synchronous."""


def flush_artifact_async_logging() -> None:
    """MLflow's flush of asynchronous artifact logging: nothing to do, every write here is synchronous."""


def delete_tag(key: str) -> None:
    _client().delete_tag(_run_id(), key)


def log_input(dataset: Any = None, context: str | None = None, tags: dict[str, Any] | None = None,
              model: Any = None, name: str | None = None) -> None:
    """Record a dataset used by the active run (MLflow's ``log_input``); it appears in ``run.inputs``.

    Args:
        dataset: a :class:`~tureen.tracking.entities.Dataset`, a dict of its fields, an object with
            ``_to_mlflow_entity()`` (MLflow's dataset classes), or the data itself: a pandas DataFrame or a
            numpy array, described as autologging does (digest, schema, profile).
        context: stored as the input tag ``mlflow.data.context`` (e.g. ``"train"``, ``"eval"``).
        tags: more input tags.
        model: a logged model (id, or object with ``model_id``) the run used, recorded in
            ``run.inputs.model_inputs``.
        name: the dataset name when ``dataset`` is data (default ``"dataset"``).

    Example:
        >>> with start_run():  # doctest: +SKIP
        ...     log_input(train_df, context="train", name="churn-march")
    """
    from tureen.tracking.entities import Dataset

    if dataset is None and model is None:
        raise InvalidParameterError("log_input needs a dataset or a model")
    models = None if model is None else [model]
    if dataset is None:
        _client().log_inputs(_run_id(), models=models)
        return
    record: Any = dataset
    if hasattr(dataset, "_to_mlflow_entity"):
        record = dataset._to_mlflow_entity()
    elif not isinstance(dataset, (Dataset, dict)):
        from tureen.autolog._common import dataset_record

        record = dataset_record(dataset, name=name)
        if record is None:
            raise InvalidParameterError(f"Cannot describe a {type(dataset).__name__} as a dataset: pass a pandas "
                                        "DataFrame, a numpy array, a Dataset or a dict of its fields")
    input_tags = dict(tags or {})
    if context is not None:
        input_tags["mlflow.data.context"] = context
    _client().log_inputs(_run_id(), datasets=[{"dataset": record, "tags": input_tags}], models=models)


def log_inputs(datasets: Sequence[Any] | None = None, contexts: Sequence[str | None] | None = None,
               tags_list: Sequence[dict[str, Any] | None] | None = None, models: Sequence[Any] | None = None) -> None:
    """Several :func:`log_input` calls at once (MLflow 3): ``contexts`` and ``tags_list`` line up with
    ``datasets``."""
    datasets = list(datasets or [])
    contexts = list(contexts or [None] * len(datasets))
    tags_list = list(tags_list or [None] * len(datasets))
    if not (len(datasets) == len(contexts) == len(tags_list)):
        raise InvalidParameterError("log_inputs: datasets, contexts and tags_list must have the same length")
    for dataset, context, tags in zip(datasets, contexts, tags_list):
        log_input(dataset, context=context, tags=tags)
    for model in models or []:
        log_input(model=model)


def log_outputs(models: Sequence[Any] | None = None) -> None:
    """Record logged models as outputs of the active run (``LoggedModelOutput`` entities or model ids)."""
    from tureen.tracking.entities import LoggedModelOutput

    outputs = [m if isinstance(m, LoggedModelOutput) else LoggedModelOutput(getattr(m, "model_id", m))
               for m in models or []]
    _client().log_outputs(_run_id(), outputs)


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None,
                 run_id: str | None = None) -> None:
    _client().log_artifact(run_id or _run_id(), local_path, artifact_path)


def log_artifacts(local_dir: str | os.PathLike[str], artifact_path: str | None = None,
                  run_id: str | None = None) -> None:
    _client().log_artifacts(run_id or _run_id(), local_dir, artifact_path)


def log_text(text: str, artifact_file: str, run_id: str | None = None) -> None:
    _client().log_text(run_id or _run_id(), text, artifact_file)


def log_dict(dictionary: Any, artifact_file: str, run_id: str | None = None) -> None:
    _client().log_dict(run_id or _run_id(), dictionary, artifact_file)


def log_figure(figure: Any, artifact_file: str, *, save_kwargs: dict[str, Any] | None = None) -> None:
    """Save a matplotlib or plotly figure into the active run's artifacts.

    Example:
        >>> log_figure(fig, "plots/loss.png")  # doctest: +SKIP
    """
    _client().log_figure(_run_id(), figure, artifact_file, save_kwargs=save_kwargs)


def log_image(image: Any, artifact_file: str | None = None, key: str | None = None, step: int | None = None,
              timestamp: int | None = None, synchronous: bool | None = None) -> None:
    """Save a numpy array or PIL image into the active run (a file, or with ``key`` a step of a series)."""
    _client().log_image(_run_id(), image, artifact_file, key, step, timestamp)


def log_table(data: Any, artifact_file: str, run_id: str | None = None) -> None:
    """Save a dict of columns or a DataFrame as a JSON table artifact (rows appended if it exists)."""
    _client().log_table(run_id or _run_id(), data, artifact_file)


def load_table(artifact_file: str, run_ids: list[str] | None = None,
               extra_columns: list[str] | None = None) -> Any:
    """The table ``artifact_file`` of every run of the active experiment that logged it (or of
    ``run_ids``), as one DataFrame.

    Example:
        >>> load_table("eval.json", extra_columns=["run_id"])  # doctest: +SKIP
    """
    from tureen.tracking._media import load_table as _load

    return _load(_client(), _current_experiment_id(), artifact_file, run_ids, extra_columns)


def get_artifact_uri(artifact_path: str | None = None) -> str:
    """The artifact URI of the active run (starting one if needed), or of a path inside it."""
    from tureen.artifacts.local import check_relative_path

    run = active_run()
    uri = run.info.artifact_uri if run is not None else _client().get_run(_run_id()).info.artifact_uri
    rel = check_relative_path(artifact_path)
    return f"{uri.rstrip('/')}/{rel}" if rel else uri


# -- reading -------------------------------------------------------------------------------------------------
def get_run(run_id: str) -> Run:
    return _client().get_run(run_id)


def delete_run(run_id: str) -> None:
    _client().delete_run(run_id)


def restore_run(run_id: str) -> None:
    _client().restore_run(run_id)


def search_runs(experiment_ids: Sequence[str] | None = None, filter_string: str = "",
                run_view_type: Any = ViewType.ACTIVE_ONLY, max_results: int = 100000,
                order_by: list[str] | None = None, output_format: str = "pandas",
                search_all_experiments: bool = False, experiment_names: Sequence[str] | None = None) -> Any:
    """Search runs; a pandas DataFrame (``output_format="pandas"``) or a list of :class:`Run`.

    Example:
        >>> search_runs(filter_string="metrics.auc > 0.9", output_format="list")  # doctest: +SKIP
        []
    """
    if output_format not in ("pandas", "list"):
        raise InvalidParameterError(f"Invalid output_format {output_format!r}: use 'pandas' or 'list'")
    client = _client()
    ids: list[str] = [str(e) for e in (experiment_ids or [])]
    for name in experiment_names or []:
        exp = client.get_experiment_by_name(name)
        if exp is None:
            raise ResourceNotFoundError(f"Could not find experiment with name {name!r}")
        ids.append(exp.experiment_id)
    if not ids:
        if search_all_experiments:
            ids = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL, max_results=50000)]
        else:
            ids = [_current_experiment_id()]
    runs: list[Run] = []
    token = None
    while len(runs) < max_results:
        page = client.search_runs(ids, filter_string, run_view_type, min(50000, max_results - len(runs)), order_by,
                                  token)
        runs.extend(page)
        token = page.token
        if not token:
            break
    if output_format == "list":
        return runs
    return _runs_to_pandas(runs)


def list_run_infos(experiment_id: str, run_view_type: Any = ViewType.ACTIVE_ONLY, max_results: int = 1000,
                   order_by: list[str] | None = None) -> list[Any]:
    """Deprecated (MLflow 1.x): the :class:`RunInfo` of the runs :func:`search_runs` finds."""
    from tureen.tracking.client import _deprecated

    _deprecated("list_run_infos", "search_runs")
    runs = search_runs([experiment_id], "", run_view_type, max_results, order_by, output_format="list")
    return [r.info for r in runs]


def _runs_to_pandas(runs: list[Run]) -> Any:
    import pandas as pd

    base = {"run_id": [], "experiment_id": [], "status": [], "artifact_uri": [], "start_time": [], "end_time": []}
    metric_keys = sorted({k for r in runs for k in r.data.metrics})
    param_keys = sorted({k for r in runs for k in r.data.params})
    tag_keys = sorted({k for r in runs for k in r.data.tags})
    columns: dict[str, list[Any]] = dict(base)
    for k in metric_keys:
        columns[f"metrics.{k}"] = []
    for k in param_keys:
        columns[f"params.{k}"] = []
    for k in tag_keys:
        columns[f"tags.{k}"] = []
    for r in runs:
        i = r.info
        columns["run_id"].append(i.run_id)
        columns["experiment_id"].append(i.experiment_id)
        columns["status"].append(i.status)
        columns["artifact_uri"].append(i.artifact_uri)
        columns["start_time"].append(i.start_time)
        columns["end_time"].append(i.end_time)
        for k in metric_keys:
            columns[f"metrics.{k}"].append(r.data.metrics.get(k))
        for k in param_keys:
            columns[f"params.{k}"].append(r.data.params.get(k))
        for k in tag_keys:
            columns[f"tags.{k}"].append(r.data.tags.get(k))
    df = pd.DataFrame(columns)
    for col in ("start_time", "end_time"):
        df[col] = pd.to_datetime(df[col], unit="ms", utc=True)
    for k in metric_keys:
        df[f"metrics.{k}"] = df[f"metrics.{k}"].astype("float64")
    return df


# -- registry --------------------------------------------------------------------------------------------------
def register_model(model_uri: str, name: str, await_registration_for: int | None = 300,
                   tags: dict[str, Any] | None = None) -> Any:
    """Register the model at ``model_uri`` (``runs:/…``, ``models:/…``, or an artifact URI) as a new version
    of ``name`` (creating the registered model if needed); return the :class:`ModelVersion`.

    Example:
        >>> register_model(f"runs:/{run_id}/model", "churn").version  # doctest: +SKIP
        '1'

    Registration is immediate (the version is ``READY`` when this returns): ``await_registration_for`` is
    accepted for MLflow's signature and has nothing to wait for.
    """
    from tureen.registry._register import register_model as _register

    return _register(model_uri, name, tags=tags, client=_client())


def set_model_version_tag(name: str, version: str | int | None = None, key: str | None = None, value: Any = None,
                          stage: str | None = None) -> None:
    """Tag a model version (by number, or the newest in ``stage``)."""
    _client().set_model_version_tag(name, version, key, value, stage)


def search_registered_models(max_results: int | None = None, filter_string: str | None = None,
                             order_by: list[str] | None = None) -> list[Any]:
    """Every registered model matching ``filter_string`` (all pages), as a list."""
    client = _client()
    return _all_pages(lambda n, t: client.search_registered_models(filter_string, n, order_by, t), max_results, 100)


def search_model_versions(max_results: int | None = None, filter_string: str | None = None,
                          order_by: list[str] | None = None) -> list[Any]:
    """Every model version matching ``filter_string`` (e.g. ``"name = 'churn'"``, all pages), as a list."""
    client = _client()
    return _all_pages(lambda n, t: client.search_model_versions(filter_string, n, order_by, t), max_results,
                      10000)


def list_registered_models(max_results: int = 100) -> list[Any]:
    """Deprecated (MLflow 1.x): :func:`search_registered_models` without a filter."""
    from tureen.tracking.client import _deprecated

    _deprecated("list_registered_models", "search_registered_models")
    client = _client()
    return _all_pages(lambda n, t: client.search_registered_models(None, n, None, t), max_results, 100)


# -- logged models (MLflow 3) -----------------------------------------------------------------------------------
_active_model_id: str | None = None
_last_logged_model_id: str | None = None


def get_logged_model(model_id: str) -> Any:
    return _client().get_logged_model(model_id)


def search_logged_models(experiment_ids: Sequence[str] | None = None, filter_string: str | None = None,
                         datasets: Any = None, max_results: int | None = None, order_by: Any = None,
                         output_format: str = "pandas") -> Any:
    """Logged models of experiments (default: the active one), as a DataFrame or a list."""
    if output_format not in ("pandas", "list"):
        raise InvalidParameterError(f"Invalid output_format {output_format!r}: use 'pandas' or 'list'")
    client = _client()
    ids = [str(e) for e in (experiment_ids or [_current_experiment_id()])]
    models = _all_pages(lambda n, t: client.search_logged_models(ids, filter_string, n, order_by, t), max_results, 50)
    if output_format == "list":
        return models
    import pandas as pd

    return pd.DataFrame([{"model_id": m.model_id, "experiment_id": m.experiment_id, "name": m.name,
                          "artifact_location": m.artifact_location, "creation_timestamp": m.creation_timestamp,
                          "last_updated_timestamp": m.last_updated_timestamp, "status": m.status,
                          "source_run_id": m.source_run_id, "model_type": m.model_type, "tags": m.tags,
                          "params": m.params} for m in models])


def last_logged_model() -> Any:
    """The logged model most recently created by this process (``log_model`` or
    :func:`initialize_logged_model`), or None."""
    return get_logged_model(_last_logged_model_id) if _last_logged_model_id else None


def initialize_logged_model(name: str | None = None, source_run_id: str | None = None,
                            tags: dict[str, Any] | None = None, params: dict[str, Any] | None = None,
                            model_type: str | None = None, experiment_id: str | None = None) -> Any:
    """Create a logged model in state ``PENDING`` (files come later); see :func:`finalize_logged_model`."""
    global _last_logged_model_id
    run = active_run()
    lm = _client().create_logged_model(str(experiment_id) if experiment_id is not None else _current_experiment_id(),
                                       name, source_run_id or (run.info.run_id if run else None), tags, params,
                                       model_type)
    _last_logged_model_id = lm.model_id
    return lm


def create_external_model(name: str | None = None, source_run_id: str | None = None,
                          tags: dict[str, Any] | None = None, params: dict[str, Any] | None = None,
                          model_type: str | None = None, experiment_id: str | None = None) -> Any:
    """A logged model for a model whose files live elsewhere (``READY``, no artifacts here)."""
    lm = initialize_logged_model(name, source_run_id, tags, params, model_type, experiment_id)
    return finalize_logged_model(lm.model_id, "READY")


def finalize_logged_model(model_id: str, status: str) -> Any:
    """Mark a logged model ``READY`` or ``FAILED`` (MLflow's ``LoggedModelStatus`` names, with or without
    the ``LOGGED_MODEL_`` prefix)."""
    status = str(getattr(status, "name", status)).upper()
    status = {"READY": "LOGGED_MODEL_READY", "FAILED": "LOGGED_MODEL_UPLOAD_FAILED",
              "PENDING": "LOGGED_MODEL_PENDING"}.get(status, status)
    return _client().finalize_logged_model(model_id, status)


def set_logged_model_tags(model_id: str, tags: dict[str, Any]) -> None:
    _client().set_logged_model_tags(model_id, tags)


def delete_logged_model_tag(model_id: str, key: str) -> None:
    _client().delete_logged_model_tag(model_id, key)


def set_active_model(*, name: str | None = None, model_id: str | None = None) -> Any:
    """Make a logged model active: later metrics of this process link to it. By ``model_id``, or by
    ``name`` (the newest logged model of that name in the active experiment, created if none exists)."""
    global _active_model_id
    if (name is None) == (model_id is None):
        raise InvalidParameterError("set_active_model needs exactly one of name= and model_id=")
    if model_id is not None:
        lm = get_logged_model(model_id)
    else:
        found = _client().search_logged_models([_current_experiment_id()], f"name = '{name}'", 1,
                                               [{"field_name": "creation_timestamp", "ascending": False}])
        lm = found[0] if found else initialize_logged_model(name=name)
    _active_model_id = lm.model_id
    return lm


def get_active_model_id() -> str | None:
    return _active_model_id
