"""``TrackingClient``: the explicit API over a tracking store, a registry store and artifact repositories.

Method names, arguments and return shapes follow MLflow's ``MlflowClient``, so code written for MLflow
ports by changing the import.

Example:
    >>> from tureen import TrackingClient  # doctest: +SKIP
    >>> client = TrackingClient()  # doctest: +SKIP
    >>> exp_id = client.create_experiment("churn")  # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
from typing import Any, Sequence

from tureen.exceptions import InvalidParameterError, ResourceNotFoundError
from tureen.tracking import _config
from tureen.tracking.entities import (
    Experiment,
    FileInfo,
    LoggedModel,
    LoggedModelOutput,
    Metric,
    PagedList,
    Run,
    RunInfo,
    RunStatus,
    ViewType,
)

__all__ = ["TrackingClient", "MlflowClient"]

_STAGES = ["None", "Staging", "Production", "Archived"]


def _deprecated(old: str, new: str) -> None:
    import warnings

    warnings.warn(f"{old} is deprecated (removed from MLflow 2); use {new}", DeprecationWarning, stacklevel=3)


def _now() -> int:
    return int(time.time() * 1000)


class TrackingClient:
    """Client of the tracking store (``tracking_uri``) and the model registry (``registry_uri``).

    Args:
        tracking_uri: defaults to :func:`tureen.get_tracking_uri` (embedded SQLite under ``TUREEN_HOME``).
        registry_uri: defaults to ``TUREEN_REGISTRY_URI``, else the tracking URI.

    Example:
        >>> client = TrackingClient("sqlite:////tmp/tureen-doc.db")  # doctest: +SKIP
        >>> run = client.create_run("0")  # doctest: +SKIP
    """

    def __init__(self, tracking_uri: str | None = None, registry_uri: str | None = None) -> None:
        self._tracking_uri = tracking_uri or _config.get_tracking_uri()
        if registry_uri:
            self._registry_uri = registry_uri
        elif tracking_uri:
            self._registry_uri = os.environ.get("TUREEN_REGISTRY_URI") or _config._registry_uri or tracking_uri
        else:
            self._registry_uri = _config.get_registry_uri()
        self._store_obj: Any = None
        self._registry_obj: Any = None

    @property
    def tracking_uri(self) -> str:
        return self._tracking_uri

    @property
    def registry_uri(self) -> str:
        return self._registry_uri

    @property
    def _store(self) -> Any:
        if self._store_obj is None:
            from tureen.tracking.stores import get_store

            self._store_obj = get_store(self._tracking_uri)
        return self._store_obj

    @property
    def _registry(self) -> Any:
        if self._registry_obj is None:
            if self._registry_uri == self._tracking_uri:
                self._registry_obj = self._store
            else:
                from tureen.tracking.stores import get_store

                self._registry_obj = get_store(self._registry_uri)
        return self._registry_obj

    # ==================================================================================================
    # experiments
    # ==================================================================================================
    def create_experiment(self, name: str, artifact_location: str | None = None,
                          tags: dict[str, Any] | None = None) -> str:
        """Create an experiment; return its id.

        Example:
            >>> TrackingClient().create_experiment("churn")  # doctest: +SKIP
            '1'
        """
        return self._store.create_experiment(name, artifact_location, tags)

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self._store.get_experiment(experiment_id)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        return self._store.get_experiment_by_name(name)

    def search_experiments(self, view_type: Any = ViewType.ACTIVE_ONLY, max_results: int = 1000,
                           filter_string: str | None = None, order_by: list[str] | None = None,
                           page_token: str | None = None) -> PagedList:
        return self._store.search_experiments(view_type, max_results, filter_string, order_by, page_token)

    def list_experiments(self, view_type: Any = ViewType.ACTIVE_ONLY, max_results: int | None = None,
                         page_token: str | None = None) -> PagedList:
        """Deprecated (MLflow 1.x): :meth:`search_experiments` without a filter."""
        _deprecated("MlflowClient.list_experiments", "MlflowClient.search_experiments")
        return self.search_experiments(view_type, max_results or 1000, None, None, page_token)

    def delete_experiment(self, experiment_id: str) -> None:
        self._store.delete_experiment(experiment_id)

    def restore_experiment(self, experiment_id: str) -> None:
        self._store.restore_experiment(experiment_id)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self._store.rename_experiment(experiment_id, new_name)

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        self._store.set_experiment_tag(experiment_id, key, value)

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        self._store.delete_experiment_tag(experiment_id, key)

    # ==================================================================================================
    # runs
    # ==================================================================================================
    def create_run(self, experiment_id: str, start_time: int | None = None, tags: dict[str, Any] | None = None,
                   run_name: str | None = None) -> Run:
        """Create a run (status ``RUNNING``) in an experiment.

        Example:
            >>> TrackingClient().create_run("0", run_name="baseline").info.status  # doctest: +SKIP
            'RUNNING'
        """
        return self._store.create_run(experiment_id, start_time=start_time, tags=tags, run_name=run_name)

    def get_run(self, run_id: str) -> Run:
        return self._store.get_run(run_id)

    def get_parent_run(self, run_id: str) -> Run | None:
        parent = self.get_run(run_id).data.tags.get("mlflow.parentRunId")
        return self.get_run(parent) if parent else None

    def update_run(self, run_id: str, status: str | None = None, name: str | None = None) -> None:
        end_time = _now() if status is not None and RunStatus.is_terminated(status) else None
        self._store.update_run_info(run_id, run_status=status, end_time=end_time, run_name=name)

    def set_terminated(self, run_id: str, status: str | None = None, end_time: int | None = None) -> RunInfo:
        """Mark a run ended (``FINISHED`` unless another terminal status is given)."""
        status = status or RunStatus.FINISHED
        if not RunStatus.is_terminated(status) and status not in RunStatus.ALL:
            raise InvalidParameterError(f"Invalid run status {status!r}")
        return self._store.update_run_info(run_id, run_status=status, end_time=end_time or _now())

    def delete_run(self, run_id: str) -> None:
        self._store.delete_run(run_id)

    def restore_run(self, run_id: str) -> None:
        self._store.restore_run(run_id)

    def search_runs(self, experiment_ids: str | Sequence[str], filter_string: str = "",
                    run_view_type: Any = ViewType.ACTIVE_ONLY, max_results: int = 1000,
                    order_by: list[str] | None = None, page_token: str | None = None) -> PagedList:
        """Runs matching a filter such as ``"metrics.auc > 0.9 AND params.C = '0.5'"``.

        Example:
            >>> TrackingClient().search_runs(["0"], "metrics.auc > 0.9")  # doctest: +SKIP
            []
        """
        return self._store.search_runs(experiment_ids, filter_string, run_view_type, max_results, order_by,
                                       page_token)

    def list_run_infos(self, experiment_id: str, run_view_type: Any = ViewType.ACTIVE_ONLY,
                       max_results: int = 1000, order_by: list[str] | None = None,
                       page_token: str | None = None) -> PagedList:
        """Deprecated (MLflow 1.x): the :class:`RunInfo` of each run :meth:`search_runs` finds."""
        _deprecated("MlflowClient.list_run_infos", "MlflowClient.search_runs")
        runs = self.search_runs([experiment_id], "", run_view_type, max_results, order_by, page_token)
        return PagedList([r.info for r in runs], runs.token)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        return list(self._store.get_metric_history(run_id, key))

    def log_metric(self, run_id: str, key: str, value: float, timestamp: int | None = None,
                   step: int | None = None, synchronous: bool | None = None, dataset_name: str | None = None,
                   dataset_digest: str | None = None, model_id: str | None = None) -> None:
        """Log one metric point (``synchronous`` is accepted for MLflow's signature: every write is synchronous)."""
        self._store.log_metric(run_id, key, value, timestamp if timestamp is not None else _now(), step or 0,
                               model_id)

    def log_param(self, run_id: str, key: str, value: Any, synchronous: bool | None = None) -> Any:
        self._store.log_param(run_id, key, value)
        return value

    def set_tag(self, run_id: str, key: str, value: Any, synchronous: bool | None = None) -> None:
        self._store.set_tag(run_id, key, value)

    def delete_tag(self, run_id: str, key: str) -> None:
        self._store.delete_tag(run_id, key)

    def log_batch(self, run_id: str, metrics: Sequence[Any] = (), params: Sequence[Any] = (),
                  tags: Sequence[Any] = (), synchronous: bool | None = None) -> None:
        """Log many values at once. Larger inputs are split into batches within MLflow's limits.

        ``metrics`` holds :class:`Metric` objects or ``(key, value, timestamp, step)`` tuples; ``params``
        and ``tags`` hold objects with ``key``/``value`` or ``(key, value)`` pairs.
        """
        metrics, params, tags = list(metrics), list(params), list(tags)
        if len(metrics) <= 1000 and len(params) <= 100 and len(tags) <= 100 \
                and len(metrics) + len(params) + len(tags) <= 1000:
            self._store.log_batch(run_id, metrics, params, tags)
            return
        # params first (they can fail on a conflicting value), then tags, then metrics
        for i in range(0, len(params), 100):
            self._store.log_batch(run_id, params=params[i:i + 100])
        for i in range(0, len(tags), 100):
            self._store.log_batch(run_id, tags=tags[i:i + 100])
        for i in range(0, len(metrics), 1000):
            self._store.log_batch(run_id, metrics=metrics[i:i + 1000])

    def log_outputs(self, run_id: str, models: Sequence[LoggedModelOutput]) -> None:
        self._store.log_outputs(run_id, models)

    def log_inputs(self, run_id: str, datasets: Sequence[Any] | None = None,
                   models: Sequence[Any] | None = None) -> None:
        """Record the datasets (and logged models) a run used; they appear in ``run.inputs``.

        ``datasets`` holds :class:`~tureen.tracking.entities.DatasetInput` entities or MLflow's dict shape
        ``{"dataset": {"name", "digest", "source_type", "source", "schema", "profile"}, "tags": [{"key",
        "value"}]}``. A dataset is stored once per experiment by ``(name, digest)``; logging the same input
        again changes nothing. ``models`` holds logged model ids (or objects with ``model_id``).

        Raises:
            InvalidParameterError: a field is missing or too long (nothing is written).

        Example:
            >>> from tureen.tracking.entities import Dataset, DatasetInput, InputTag  # doctest: +SKIP
            >>> client.log_inputs(run_id, [DatasetInput(Dataset("iris", "ab12cd34", "code", "{}"),
            ...                                         [InputTag("mlflow.data.context", "train")])])  # doctest: +SKIP
        """
        self._store.log_inputs(run_id, datasets=datasets, models=models)

    # ==================================================================================================
    # artifacts
    # ==================================================================================================
    def _artifact_repository(self, artifact_uri: str) -> Any:
        """The repository behind a run's artifact URI. A tracking server replaces this with its own resolver,
        which maps ``mlflow-artifacts:/`` to its destination (rather than calling itself over HTTP)."""
        from tureen.artifacts import get_artifact_repository

        return get_artifact_repository(artifact_uri)

    def _repo(self, run_id: str) -> Any:
        return self._artifact_repository(self.get_run(run_id).info.artifact_uri)

    def _writable_repo(self, run_id: str) -> Any:
        run = self.get_run(run_id)
        if run.info.lifecycle_stage != "active":
            raise InvalidParameterError(f"The run {run_id} must be in the 'active' state to log artifacts")
        return self._artifact_repository(run.info.artifact_uri)

    def log_artifact(self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        """Copy a local file (or a directory's files) into the run's artifacts."""
        repo = self._writable_repo(run_id)
        if os.path.isdir(local_path):
            repo.log_artifacts(local_path, "/".join(x for x in (artifact_path, os.path.basename(
                os.path.normpath(local_path))) if x))
        else:
            repo.log_artifact(local_path, artifact_path)

    def log_artifacts(self, run_id: str, local_dir: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        self._writable_repo(run_id).log_artifacts(local_dir, artifact_path)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        self._writable_repo(run_id).log_text(text, artifact_file)

    def log_dict(self, run_id: str, dictionary: Any, artifact_file: str) -> None:
        self._writable_repo(run_id).log_dict(dictionary, artifact_file)

    def log_figure(self, run_id: str, figure: Any, artifact_file: str, *,
                   save_kwargs: dict[str, Any] | None = None) -> None:
        """Save a matplotlib or plotly figure as the artifact ``artifact_file`` (its extension picks the format).

        Example:
            >>> client.log_figure(run_id, fig, "plots/loss.png")  # doctest: +SKIP
        """
        from tureen.tracking._media import figure_bytes

        self._writable_repo(run_id).log_bytes(figure_bytes(figure, artifact_file, save_kwargs), artifact_file)

    def log_image(self, run_id: str, image: Any, artifact_file: str | None = None, key: str | None = None,
                  step: int | None = None, timestamp: int | None = None, synchronous: bool | None = None) -> None:
        """Save a numpy array or PIL image: as ``artifact_file``, or (with ``key``) as one step of an image series
        under ``images/`` the way MLflow lays it out.

        Example:
            >>> client.log_image(run_id, np.zeros((8, 8, 3)), "black.png")  # doctest: +SKIP
        """
        from tureen.tracking._media import log_image

        log_image(self, run_id, image, artifact_file, key, step, timestamp)

    def log_table(self, run_id: str, data: Any, artifact_file: str) -> None:
        """Save a dict of columns or a DataFrame as a JSON table artifact (appending rows if it exists).

        Example:
            >>> client.log_table(run_id, {"q": ["a"], "score": [0.5]}, "eval.json")  # doctest: +SKIP
        """
        from tureen.tracking._media import log_table

        log_table(self, run_id, data, artifact_file)

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        return self._repo(run_id).list_artifacts(path)

    def download_artifacts(self, run_id: str, path: str = "", dst_path: str | None = None) -> str:
        """Copy run artifacts to a local directory; return the local path."""
        return self._repo(run_id).download_artifacts(path, dst_path)

    # ==================================================================================================
    # logged models
    # ==================================================================================================
    def create_logged_model(self, experiment_id: str, name: str | None = None, source_run_id: str | None = None,
                            tags: dict[str, Any] | None = None, params: dict[str, Any] | None = None,
                            model_type: str | None = None) -> LoggedModel:
        return self._store.create_logged_model(experiment_id, name, source_run_id, tags, params, model_type)

    def get_logged_model(self, model_id: str) -> LoggedModel:
        return self._store.get_logged_model(model_id)

    def finalize_logged_model(self, model_id: str, status: str) -> LoggedModel:
        return self._store.finalize_logged_model(model_id, status)

    def set_logged_model_tags(self, model_id: str, tags: dict[str, Any]) -> None:
        self._store.set_logged_model_tags(model_id, tags)

    def delete_logged_model(self, model_id: str) -> None:
        self._store.delete_logged_model(model_id)

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        self._store.delete_logged_model_tag(model_id, key)

    def list_logged_model_artifacts(self, model_id: str, path: str | None = None) -> list[FileInfo]:
        """The files directly under ``path`` of a logged model's artifacts."""
        from tureen.artifacts import get_artifact_repository

        return get_artifact_repository(self.get_logged_model(model_id).artifact_location).list_artifacts(path)

    def log_model_artifact(self, model_id: str, local_path: str | os.PathLike[str]) -> None:
        """Copy a local file into a logged model's artifacts."""
        from tureen.artifacts import get_artifact_repository

        get_artifact_repository(self.get_logged_model(model_id).artifact_location).log_artifact(local_path)

    def log_model_artifacts(self, model_id: str, local_dir: str | os.PathLike[str]) -> None:
        """Copy a local directory's files into a logged model's artifacts."""
        from tureen.artifacts import get_artifact_repository

        get_artifact_repository(self.get_logged_model(model_id).artifact_location).log_artifacts(local_dir)

    def load_table(self, experiment_id: str, artifact_file: str, run_ids: list[str] | None = None,
                   extra_columns: list[str] | None = None) -> Any:
        """The table ``artifact_file`` of the experiment's runs that logged it (or of ``run_ids``), as one
        DataFrame (see :func:`tureen.load_table`)."""
        from tureen.tracking._media import load_table

        return load_table(self, str(experiment_id), artifact_file, run_ids, extra_columns)

    def search_logged_models(self, experiment_ids: Sequence[str], filter_string: str | None = None,
                             max_results: int = 50, order_by: Sequence[Any] | None = None,
                             page_token: str | None = None) -> PagedList:
        """Logged models (``m-…``) of experiments, e.g. ``filter_string="name = 'model'"``."""
        return self._store.search_logged_models(experiment_ids, filter_string, max_results, order_by, page_token)

    # ==================================================================================================
    # registry: registered models
    # ==================================================================================================
    def create_registered_model(self, name: str, tags: dict[str, Any] | None = None,
                                description: str | None = None) -> Any:
        """Create a registered model (no versions yet).

        Example:
            >>> TrackingClient().create_registered_model("churn").name  # doctest: +SKIP
            'churn'
        """
        return self._registry.create_registered_model(name, tags, description)

    def get_registered_model(self, name: str) -> Any:
        return self._registry.get_registered_model(name)

    def rename_registered_model(self, name: str, new_name: str) -> Any:
        return self._registry.rename_registered_model(name, new_name)

    def update_registered_model(self, name: str, description: str | None = None) -> Any:
        return self._registry.update_registered_model(name, description)

    def delete_registered_model(self, name: str) -> None:
        self._registry.delete_registered_model(name)

    def search_registered_models(self, filter_string: str | None = None, max_results: int = 100,
                                 order_by: list[str] | None = None, page_token: str | None = None) -> PagedList:
        return self._registry.search_registered_models(filter_string, max_results, order_by, page_token)

    def list_registered_models(self, max_results: int = 100, page_token: str | None = None) -> PagedList:
        """Deprecated (MLflow 1.x): :meth:`search_registered_models` without a filter."""
        _deprecated("MlflowClient.list_registered_models", "MlflowClient.search_registered_models")
        return self.search_registered_models(None, max_results, None, page_token)

    def get_latest_versions(self, name: str, stages: Sequence[str] | None = None) -> list[Any]:
        """The newest version in each stage (or in each of ``stages``)."""
        return self._registry.get_latest_versions(name, stages)

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        self._registry.set_registered_model_tag(name, key, value)

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self._registry.delete_registered_model_tag(name, key)

    def set_registered_model_alias(self, name: str, alias: str, version: str | int) -> None:
        """Point ``alias`` at a version (moving it if it pointed elsewhere); recorded in the alias history."""
        self._registry.set_registered_model_alias(name, alias, version)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        self._registry.delete_registered_model_alias(name, alias)

    def get_model_version_by_alias(self, name: str, alias: str) -> Any:
        return self._registry.get_model_version_by_alias(name, alias)

    def get_registered_model_alias_history(self, name: str, alias: str | None = None) -> list[Any]:
        """Which version each alias pointed to, and when (oldest first; ``version=None`` = deleted)."""
        return self._registry.get_registered_model_alias_history(name, alias)

    # ==================================================================================================
    # registry: model versions
    # ==================================================================================================
    def create_model_version(self, name: str, source: str, run_id: str | None = None,
                             tags: dict[str, Any] | None = None, run_link: str | None = None,
                             description: str | None = None, await_creation_for: int = 300,
                             model_id: str | None = None) -> Any:
        """Add a version to a registered model; it starts in stage ``None`` with status ``READY``.

        Creation is immediate: ``await_creation_for`` is accepted for MLflow's signature and has nothing to
        wait for. A ``runs:/<run>/<name>`` source is kept as given (as MLflow keeps it) and its files are found
        as :func:`tureen.register_model` finds them: the run's own artifacts, else the logged model ``<name>``
        of that run (where MLflow 3's ``log_model`` puts them). As MLflow's client, it sends no ``model_id``
        of its own beside a ``runs:/`` source.
        """
        storage = None
        if isinstance(source, str) and source.startswith("runs:/"):
            from tureen.registry._register import _resolve_source

            try:
                resolved, rid, mid = _resolve_source(source, self)
            except ResourceNotFoundError:
                # no model there (yet): MLflow registers the URI anyway, pointing into the run's artifacts
                rid, _, path = source[len("runs:/"):].partition("/")
                root = self.get_run(rid).info.artifact_uri.rstrip("/")
                resolved, mid = (f"{root}/{path}" if path else root), None
            # the files' location only: as MLflow's client, no model_id goes with a runs:/ source (MLflow's
            # server refuses the pair)
            storage = self.get_logged_model(mid).artifact_location if mid is not None else resolved
        elif self._registry is not self._store and isinstance(source, str):
            # the logged model behind the source lives in the tracking database, not the registry's
            if source.startswith("models:/m-") and "/" not in source[len("models:/"):].strip("/"):
                lm = self.get_logged_model(source[len("models:/"):].strip("/"))
                storage, model_id = lm.artifact_location, lm.model_id
                run_id = run_id or lm.source_run_id
        return self._registry.create_model_version(name, source, run_id, tags, run_link, description, model_id,
                                                   storage_location=storage)

    def get_model_version(self, name: str, version: str | int) -> Any:
        return self._registry.get_model_version(name, version)

    def update_model_version(self, name: str, version: str | int, description: str | None = None) -> Any:
        return self._registry.update_model_version(name, version, description)

    def transition_model_version_stage(self, name: str, version: str | int, stage: str,
                                       archive_existing_versions: bool = False) -> Any:
        """Move a version to ``None``/``Staging``/``Production``/``Archived`` (any case).

        With ``archive_existing_versions=True`` (only for Staging and Production) the other versions in
        the target stage move to ``Archived`` in the same transaction.
        """
        return self._registry.transition_model_version_stage(name, version, stage, archive_existing_versions)

    def delete_model_version(self, name: str, version: str | int) -> None:
        self._registry.delete_model_version(name, version)

    def search_model_versions(self, filter_string: str | None = None, max_results: int = 10000,
                              order_by: list[str] | None = None, page_token: str | None = None) -> PagedList:
        return self._registry.search_model_versions(filter_string, max_results, order_by, page_token)

    def get_model_version_stages(self, name: str, version: str | int) -> list[str]:
        """Deprecated (MLflow 1.x): the stages a version can move to (always the four stages)."""
        _deprecated("MlflowClient.get_model_version_stages", "the four stages None, Staging, Production, "
                    "Archived (or aliases: MlflowClient.set_registered_model_alias)")
        self.get_model_version(name, version)  # an unknown version is an error, as in MLflow
        return list(_STAGES)

    def get_model_version_download_uri(self, name: str, version: str | int) -> str:
        """Where the files of a version are (an artifact URI)."""
        return self._registry.get_model_version_download_uri(name, version)

    def set_model_version_tag(self, name: str, version: str | int | None = None, key: str | None = None,
                              value: Any = None, stage: str | None = None) -> None:
        version = self._version_or_stage(name, version, stage)
        if key is None:
            raise InvalidParameterError("set_model_version_tag needs a key")
        self._registry.set_model_version_tag(name, version, key, value)

    def delete_model_version_tag(self, name: str, version: str | int | None = None, key: str | None = None,
                                 stage: str | None = None) -> None:
        version = self._version_or_stage(name, version, stage)
        if key is None:
            raise InvalidParameterError("delete_model_version_tag needs a key")
        self._registry.delete_model_version_tag(name, version, key)

    def _version_or_stage(self, name: str, version: Any, stage: str | None) -> Any:
        if (version is None) == (stage is None):
            raise InvalidParameterError("Give exactly one of version and stage")
        if version is not None:
            return version
        latest = self.get_latest_versions(name, [stage])  # type: ignore[list-item]
        if not latest:
            raise ResourceNotFoundError(f"No version of model {name!r} is in stage {stage!r}")
        return latest[0].version

    def copy_model_version(self, src_model_uri: str, dst_name: str) -> Any:
        """Register the version behind ``src_model_uri`` (``models:/…``) as a new version of ``dst_name``."""
        from tureen.registry._uri import lookup_version

        src = lookup_version(src_model_uri, self)
        try:
            self.create_registered_model(dst_name)
        except Exception as exc:  # noqa: BLE001 - only "already exists" is fine
            if getattr(exc, "error_code", None) != "RESOURCE_ALREADY_EXISTS":
                raise
        source = self.get_model_version_download_uri(src.name, src.version)
        return self.create_model_version(dst_name, source, run_id=src.run_id, model_id=src.model_id)


#: MLflow's name for the client: ``mlflow.MlflowClient`` / ``mlflow.tracking.MlflowClient``
MlflowClient = TrackingClient
