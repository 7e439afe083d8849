"""``tureen.projects.run``: fetch, load, check the parameters, make the tracked run, prepare the
environment, launch on the backend. Everything that can be refused is refused before a run is created."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from tureen.exceptions import ProjectBackendError, ProjectError, ProjectRunFailedError
from tureen.projects._env import Environment, prepare_environment, resolve_env_manager
from tureen.projects._source import FetchedProject, fetch_project
from tureen.projects._spec import EntryPoint, Project, load_project
from tureen.projects._submitted import ProcessSubmittedRun, SubmittedRun

__all__ = ["run", "plan", "Plan", "BACKENDS"]

BACKENDS = ("local", "docker", "kubernetes", "databricks")


@dataclass
class Plan:
    """What a project run will do, resolved: printed by ``tureen run --dry-run``."""

    fetched: FetchedProject
    project: Project
    entry: EntryPoint
    parameters: dict[str, str]
    extra_parameters: dict[str, str]
    command: str
    backend: str
    env_manager: str
    environment: Environment | None = None
    experiment_id: str | None = None
    docker_image: str | None = None
    docker_argv: list[str] = field(default_factory=list)
    job: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def render(self) -> str:
        """Human-readable text of the plan (YAML-ish); the Job manifest as YAML."""
        import yaml

        lines = [f"project:     {self.fetched.source_name}",
                 f"directory:   {self.project.directory}",
                 f"entry point: {self.entry.name}",
                 f"backend:     {self.backend}",
                 f"env manager: {self.env_manager}"]
        if self.fetched.git_commit:
            lines.append(f"git commit:  {self.fetched.git_commit}")
        if self.environment is not None:
            lines.append(f"environment: {self.environment.description}")
        if self.experiment_id is not None:
            lines.append(f"experiment:  {self.experiment_id}")
        lines.append("parameters:")
        for k, v in {**self.parameters, **self.extra_parameters}.items():
            lines.append(f"  {k}: {v}")
        lines.append(f"command:     {self.command}")
        if self.docker_image:
            lines.append(f"image:       {self.docker_image}")
        if self.project.docker_env is not None:
            for vol in self.project.docker_env.volumes:
                lines.append(f"volume from MLproject: {vol}")
            for key, value in self.project.docker_env.environment:
                lines.append(f"environment from MLproject: {key}" + ("" if value is None else f"={value}"))
        if self.docker_argv:
            import shlex

            lines.append("docker:      docker " + shlex.join(self.docker_argv))
        for note in self.notes:
            lines.append(f"note: {note}")
        if self.job is not None:
            lines.append("job: |")
            lines += ["  " + ln for ln in yaml.safe_dump(self.job, sort_keys=False).splitlines()]
        return "\n".join(lines) + "\n"


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ProjectError(f"Unknown {name} {value!r:.60}: use one of {', '.join(choices)}")
    return value


def _absolute_tracking_uri(uri: str) -> str:
    # the entry point runs in the project directory: a relative SQLite path must not move with it
    m = re.match(r"^sqlite:///(?!/)(.+)$", uri)
    if m and not m.group(1).startswith(":memory:"):
        return f"sqlite:///{os.path.abspath(m.group(1))}"
    return uri


def _resolve(uri: str, entry_point: str, version: str | None, parameters: Mapping[str, Any] | None,
             backend: str, env_manager: str | None, use_conda: bool | None,
             storage_dir: str | os.PathLike[str] | None) -> Plan:
    backend = _check_choice("backend", backend, BACKENDS)
    if backend == "databricks":
        raise ProjectBackendError("The databricks backend is not supported by tureen: run the project with "
                                  "backend 'local', 'docker' or 'kubernetes', or use MLflow's own client for "
                                  "Databricks")
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, Mapping):
        raise ProjectError(f"parameters must be a mapping of name -> value, got {type(parameters).__name__}")
    fetched = fetch_project(uri, version)
    try:
        project = load_project(fetched.directory)
        entry = project.entry_point(entry_point)
        storage = Path(storage_dir) if storage_dir is not None else None
        values, extra = entry.resolve(parameters, project_dir=project.directory, storage_dir=storage)
        command = entry.command_line(values, extra)
        if backend == "local" and project.docker_env is not None:
            backend_run = "docker"  # MLflow runs a docker_env project in docker on its local backend too
        else:
            backend_run = backend
        if backend_run in ("docker", "kubernetes"):
            manager = "docker" if project.docker_env is not None or backend_run == "docker" else "local"
            if env_manager not in (None, "local", "docker"):
                raise ProjectError(f"The {backend_run} backend runs the entry point in its image; env manager "
                                   f"{env_manager!r} does not apply")
        else:
            manager = resolve_env_manager(project, env_manager, use_conda)
        return Plan(fetched, project, entry, values, extra, command, backend_run, manager)
    except BaseException:
        fetched.cleanup()
        raise


def _experiment_id(experiment_name: str | None, experiment_id: str | None) -> str:
    from tureen.tracking import fluent

    if experiment_name is not None and experiment_id is not None:
        raise ProjectError("Give experiment_name or experiment_id, not both")
    if experiment_id is not None:
        fluent._client().get_experiment(str(experiment_id))
        return str(experiment_id)
    if experiment_name is not None:
        if not isinstance(experiment_name, str) or not experiment_name.strip():
            raise ProjectError(f"experiment_name must be a non-empty string, got {experiment_name!r:.60}")
        exp = fluent.get_experiment_by_name(experiment_name)
        return exp.experiment_id if exp is not None else fluent.create_experiment(experiment_name)
    for var in ("TUREEN_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_ID"):
        if os.environ.get(var):
            return os.environ[var]
    if os.environ.get("MLFLOW_EXPERIMENT_NAME") and not os.environ.get("TUREEN_EXPERIMENT_NAME"):
        return _experiment_id(os.environ["MLFLOW_EXPERIMENT_NAME"], None)
    return fluent._current_experiment_id()


def _tags(plan: Plan, backend: str) -> dict[str, str]:
    import getpass

    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001
        user = "unknown"
    from tureen.tracking._orphans import PROCESS_TAG, process_tag

    tags = {"mlflow.user": user, "mlflow.source.type": "PROJECT", "mlflow.source.name": plan.fetched.source_name,
            "mlflow.project.entryPoint": plan.entry.name, "mlflow.project.env": plan.env_manager,
            "mlflow.project.backend": backend, PROCESS_TAG: process_tag()}
    if plan.fetched.git_commit:
        tags["mlflow.source.git.commit"] = plan.fetched.git_commit
    if plan.fetched.git_repo_url:
        tags["mlflow.source.git.repoURL"] = plan.fetched.git_repo_url
        tags["mlflow.gitRepoURL"] = plan.fetched.git_repo_url
    if plan.fetched.git_branch:
        tags["mlflow.source.git.branch"] = plan.fetched.git_branch
    parent = os.environ.get("TUREEN_RUN_ID") or os.environ.get("MLFLOW_RUN_ID")
    if not parent:
        from tureen.tracking import fluent

        active = fluent.active_run()
        parent = active.info.run_id if active is not None else None
    if parent:
        tags["mlflow.parentRunId"] = parent
    return tags


def _run_env(run_id: str, experiment_id: str, tracking_uri: str) -> dict[str, str]:
    from tureen.tracking import _config

    env = {"TUREEN_RUN_ID": run_id, "MLFLOW_RUN_ID": run_id, "TUREEN_TRACKING_URI": tracking_uri,
           "MLFLOW_TRACKING_URI": tracking_uri, "TUREEN_EXPERIMENT_ID": experiment_id,
           "MLFLOW_EXPERIMENT_ID": experiment_id}
    registry, source = _config.registry_uri_source()
    if source == "set_registry_uri()":
        env["TUREEN_REGISTRY_URI"] = env["MLFLOW_REGISTRY_URI"] = _absolute_tracking_uri(registry)
    return env


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def plan(uri: str, entry_point: str = "main", version: str | None = None,
         parameters: Mapping[str, Any] | None = None, docker_args: Mapping[str, Any] | None = None,
         experiment_name: str | None = None, experiment_id: str | None = None, backend: str = "local",
         backend_config: Any = None, use_conda: bool | None = None,
         storage_dir: str | os.PathLike[str] | None = None, env_manager: str | None = None) -> Plan:
    """Resolve everything a run would do, without creating a run, an environment or an image.

    Example:
        >>> print(plan("examples/projects/wine", parameters={"alpha": 0.3}).command)  # doctest: +SKIP
        python train.py --alpha 0.3 --l1-ratio 0.1
    """
    p = _resolve(uri, entry_point, version, parameters, backend, env_manager, use_conda, storage_dir)
    try:
        if p.env_manager != "docker":
            p.environment = prepare_environment(p.project, p.env_manager, dry_run=True)
        run_id = "<run-id>"
        from tureen.tracking import _config

        tracking_uri = _absolute_tracking_uri(_config.get_tracking_uri())
        env = _run_env(run_id, "<experiment-id>", tracking_uri)
        if p.backend == "docker":
            from tureen.projects._docker import docker_args_list

            docker_args_list(docker_args)
            _docker_plan(p, docker_args, env, tracking_uri, None, run_id, load_docker_config(backend_config))
        elif p.backend == "kubernetes":
            _kubernetes_plan(p, backend_config, env, run_id, tracking_uri)
        return p
    finally:
        p.fetched.cleanup()


def _docker_base(p: Plan, config: Mapping[str, Any]) -> str:
    image = config.get("image") or (p.project.docker_env.image if p.project.docker_env else None)
    if not image:
        raise ProjectError("The docker backend needs an image: a docker_env.image in the MLproject file or "
                           "'image' in backend_config")
    return str(image)


def _docker_plan(p: Plan, docker_args: Any, env: dict[str, str], tracking_uri: str, artifact_uri: str | None,
                 run_id: str, config: Mapping[str, Any] | None = None) -> None:
    from tureen.projects._docker import docker_run_argv, project_image_tag, tracking_mounts

    base = _docker_base(p, config or {})
    p.docker_image = project_image_tag(p.project.directory, base, p.project.name)
    mounts = tracking_mounts(tracking_uri, artifact_uri)
    p.docker_argv = docker_run_argv(p.docker_image, p.command, container_name=f"tureen-run-{run_id[:12]}".replace("<", "").replace(">", ""),
                                    env=env, docker_env=p.project.docker_env, docker_args=docker_args, mounts=mounts)
    if p.project.docker_env is not None and p.project.docker_env.volumes:
        p.notes.append("the MLproject file mounts host paths into the container: "
                       + ", ".join(p.project.docker_env.volumes))


def _kubernetes_plan(p: Plan, backend_config: Any, env: dict[str, str], run_id: str, tracking_uri: str) -> dict:
    from tureen.projects._kubernetes import load_backend_config, render_job

    config = load_backend_config(backend_config)
    image = config.get("image")
    if image:
        p.notes.append(f"reusing the pre-built image {image} (no build, no push)")
    else:
        if p.project.docker_env is None:
            raise ProjectError("The kubernetes backend needs an image: a docker_env in the MLproject file, or a "
                               "pre-built 'image' in backend_config")
        from tureen.projects._docker import project_image_tag

        repo = config.get("repository-uri")
        image = project_image_tag(p.project.directory, p.project.docker_env.image, p.project.name,
                                  str(repo) if repo else None)
        p.notes.append(f"the image {image} is built from docker_env.image {p.project.docker_env.image}"
                       + ("; pushed (push: true)" if config.get("push") else "; not pushed (set push: true)"))
    if re.match(r"^(sqlite:|file:|/)", tracking_uri):
        p.notes.append(f"the tracking URI {tracking_uri} is local to this machine: the pod cannot reach it; "
                       "use a tracking server URI (http://...)")
    p.docker_image = str(image)
    p.job = render_job(config, project_name=p.project.name or p.project.directory.name, run_id=run_id,
                       image=str(image), command=p.command, env=env,
                       extra_env=list(p.project.docker_env.environment) if p.project.docker_env else None)
    if not config.get("kube-context"):
        p.notes.append("no kube-context in backend_config: the Job is rendered, not applied")
    return config


def run(uri: str, entry_point: str = "main", version: str | None = None,
        parameters: Mapping[str, Any] | None = None, docker_args: Mapping[str, Any] | None = None,
        experiment_name: str | None = None, experiment_id: str | None = None, backend: str = "local",
        backend_config: Any = None, use_conda: bool | None = None,
        storage_dir: str | os.PathLike[str] | None = None, synchronous: bool = True,
        run_id: str | None = None, run_name: str | None = None, env_manager: str | None = None,
        build_image: bool = False, log: Callable[[str], None] | None = None) -> SubmittedRun:
    """Run an entry point of the project at ``uri`` (a directory or git URL, ``#subdir`` allowed) as a
    tracked run.

    Args:
        uri: local directory, or git URL (``https://``, ``ssh://``, ``file://``...), optionally ``#subdir``.
        entry_point: a declared entry point, or a ``.py`` / ``.sh`` file of the project.
        version: git commit, branch or tag to check out.
        parameters: values for the entry point's parameters; unknown ones are passed as ``--name value``.
        docker_args: extra ``docker run`` options (``{"e": "A=1", "network": "host"}``).
        experiment_name: the run's experiment, created if missing. experiment_id: or its id.
        backend: ``local``, ``docker``, ``kubernetes`` (``databricks`` is refused).
        backend_config: the backend's settings (mapping or JSON file), see docs/projects.md.
        use_conda: True asks for ``env_manager="conda"``, False for ``"local"`` (MLflow 1's spelling).
        storage_dir: where ``path`` parameters given as URIs are downloaded.
        synchronous: wait for the entry point (and raise if it fails), or return at once.
        run_id: continue this existing run instead of creating one. run_name: the new run's name.
        env_manager: ``local``, ``virtualenv``, ``uv`` or ``conda`` (default: what the project declares,
            or the manager of the enclosing project run).
        build_image: rebuild the docker image even when one for these exact files exists.
        log: where progress lines go (default: stderr).

    Returns:
        A :class:`SubmittedRun` (``run_id``, ``wait()``, ``get_status()``, ``cancel()``).

    Raises:
        ProjectError: the project, entry point, source or a setting is invalid (no run is created).
        ProjectParameterError: a parameter is missing or mistyped (no run is created).
        ProjectEnvironmentError: the environment cannot be built (the installer's output).
        ProjectBackendError: unsupported backend, no cluster configured.
        ProjectRunFailedError: with ``synchronous=True``, the entry point exited non-zero.

    Example:
        >>> submitted = run("examples/projects/wine", parameters={"alpha": 0.3})  # doctest: +SKIP
        >>> submitted.get_status()  # doctest: +SKIP
        'FINISHED'
    """
    from tureen.tracking import _config, fluent

    log = log or _to_stderr
    for name, value in (("synchronous", synchronous), ("build_image", build_image)):
        if not isinstance(value, bool):
            raise ProjectError(f"{name} must be True or False, got {value!r:.40}")
    if run_name is not None and (not isinstance(run_name, str) or len(run_name) > 250):
        raise ProjectError(f"run_name must be a string of at most 250 characters, got {run_name!r:.60}")
    p = _resolve(uri, entry_point, version, parameters, backend, env_manager, use_conda, storage_dir)
    try:
        config: dict[str, Any] = {}
        if p.backend == "kubernetes":
            from tureen.projects._kubernetes import load_backend_config

            config = load_backend_config(backend_config)
            _kubernetes_plan(p, config, {}, "0" * 32, "http://x")  # refuse a bad template before the run exists
            if not config.get("kube-context"):
                raise ProjectBackendError("The kubernetes backend needs 'kube-context' in backend_config to apply "
                                          "the Job to a cluster; none is configured. `tureen run --dry-run "
                                          "--backend kubernetes ...` prints the Job it would apply")
        elif p.backend == "docker":
            from tureen.projects._docker import check_backend_docker, docker_args_list

            config = load_docker_config(backend_config)
            docker_args_list(docker_args)
            _docker_base(p, config)
            check_backend_docker()
        exp_id = _experiment_id(experiment_name, experiment_id)
        client = fluent._client()
        tracking_uri = _absolute_tracking_uri(_config.get_tracking_uri())
        tags = _tags(p, backend)
        if run_id is not None:
            existing = client.get_run(run_id)
            if existing.info.lifecycle_stage != "active":
                raise ProjectError(f"Run {run_id} is deleted; it cannot be continued")
            tags.pop("mlflow.parentRunId", None)
            client.update_run(run_id, status="RUNNING", name=run_name)
            client.log_batch(run_id, tags=list(tags.items()))
            exp_id = existing.info.experiment_id
            rid = run_id
        else:
            rid = client.create_run(exp_id, tags=tags, run_name=run_name).info.run_id
    except BaseException:
        p.fetched.cleanup()
        raise
    try:
        client.log_batch(rid, params=list({**p.parameters, **p.extra_parameters}.items()))
        env = _run_env(rid, exp_id, tracking_uri)
        if p.backend == "local":
            p.environment = prepare_environment(p.project, p.env_manager, log=log)
            if p.environment.reused:
                log(f"tureen: reusing environment {p.environment.path} ({p.environment.setup_seconds:.2f} s)")
            child_env = p.environment.apply({**os.environ, **env})
            log(f"tureen: run {rid}: {p.command}")
            popen = subprocess.Popen(["bash", "-c", p.command], cwd=p.project.directory, env=child_env,
                                     start_new_session=True)
            submitted: SubmittedRun = ProcessSubmittedRun(rid, popen, client=client, on_end=p.fetched.cleanup)
        elif p.backend == "docker":
            submitted = _launch_docker(p, config, docker_args, env, tracking_uri, rid, client, build_image, log)
        else:
            submitted = _launch_kubernetes(p, config, env, tracking_uri, rid, client, build_image, log)
    except BaseException:
        client.set_terminated(rid, "FAILED")
        p.fetched.cleanup()
        raise
    if synchronous:
        try:
            ok = submitted.wait()
        except KeyboardInterrupt:
            submitted.cancel()
            raise
        if not ok:
            code = getattr(submitted, "returncode", None)
            raise ProjectRunFailedError(f"Run {rid} ({p.entry.name}) failed"
                                        + (f": the entry point exited with status {code}" if code is not None else ""),
                                        details={"run_id": rid, "returncode": code})
    return submitted


def load_docker_config(backend_config: Any) -> dict[str, Any]:
    from tureen.projects._kubernetes import load_backend_config

    config = load_backend_config(backend_config)
    unknown = set(config) - {"image"}
    if unknown:
        raise ProjectError(f"Unknown docker backend_config keys {sorted(unknown)} (known: ['image'])")
    return config


def _launch_docker(p: Plan, config: Mapping[str, Any], docker_args: Any, env: dict[str, str], tracking_uri: str,
                   rid: str, client: Any, build_image: bool, log: Callable[[str], None]) -> SubmittedRun:
    from tureen.docker._engine import docker_executable, run_docker
    from tureen.projects._docker import build_project_image

    artifact_uri = client.get_run(rid).info.artifact_uri
    _docker_plan(p, docker_args, env, tracking_uri, artifact_uri, rid, config)
    assert p.docker_image is not None
    image_id = build_project_image(p.project.directory, _docker_base(p, config), p.docker_image,
                                   rebuild=build_image, log=log)
    client.log_batch(rid, tags=[("mlflow.docker.image.uri", p.docker_image), ("mlflow.docker.image.id", image_id)])
    for note in p.notes:
        log(f"tureen: note: {note}")
    log(f"tureen: run {rid} in docker: {p.command}")
    name = f"tureen-run-{rid[:12]}"
    from tureen.docker._engine import _env

    popen = subprocess.Popen([docker_executable(), *p.docker_argv], env=_env(), start_new_session=True)
    return ProcessSubmittedRun(rid, popen, client=client, on_end=p.fetched.cleanup,
                               on_cancel=lambda: run_docker(["rm", "-f", name], check=False, timeout=60))


def _launch_kubernetes(p: Plan, config: Mapping[str, Any], env: dict[str, str], tracking_uri: str, rid: str,
                       client: Any, build_image: bool, log: Callable[[str], None]) -> SubmittedRun:
    import yaml

    from tureen.projects._kubernetes import KubernetesSubmittedRun, kubectl

    p.notes.clear()
    _kubernetes_plan(p, config, env, rid, tracking_uri)
    assert p.job is not None and p.docker_image is not None
    if not config.get("image"):
        from tureen.docker._engine import run_docker
        from tureen.projects._docker import build_project_image

        assert p.project.docker_env is not None
        image_id = build_project_image(p.project.directory, p.project.docker_env.image, p.docker_image,
                                       rebuild=build_image, log=log)
        client.set_tag(rid, "mlflow.docker.image.id", image_id)
        if config.get("push"):
            log(f"tureen: docker push {p.docker_image}")
            run_docker(["push", p.docker_image], timeout=3600)
    client.set_tag(rid, "mlflow.docker.image.uri", p.docker_image)
    context = str(config["kube-context"])
    proc = kubectl(["apply", "-f", "-"], context=context, input_text=yaml.safe_dump(p.job))
    if proc.returncode != 0:
        raise ProjectBackendError(f"kubectl apply failed: {(proc.stderr or proc.stdout).strip()[-1500:]}")
    client.set_tag(rid, "tureen.kubernetes.job", p.job["metadata"]["name"])
    log(f"tureen: Job {p.job['metadata']['name']} applied to {context}")
    p.fetched.cleanup()
    return KubernetesSubmittedRun(rid, p.job["metadata"]["name"], p.job["metadata"].get("namespace"), context, client)

