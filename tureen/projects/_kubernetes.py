"""The kubernetes backend: a Job rendered from the user's template, run with kubectl.

``backend_config`` (a dict, or a JSON file) takes MLflow's keys ``kube-job-template-path``,
``kube-context`` and ``repository-uri``, and three of tureen's: ``image`` (a pre-built image to reuse: no
build, no push; MLflow cannot, mlflow#3741), ``push`` (push the built image; off unless asked) and
``namespace``. ``kubectl apply`` runs only when ``kube-context`` names a cluster; without one the Job is
rendered (``--dry-run`` prints it) and the run is refused with a clear error.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Mapping

from tureen.exceptions import ProjectBackendError, ProjectError
from tureen.projects._spec import read_yaml_file
from tureen.projects._submitted import SubmittedRun

__all__ = ["load_backend_config", "render_job", "KubernetesSubmittedRun", "kubectl"]

_KNOWN = {"kube-job-template-path", "kube-context", "repository-uri", "image", "push", "namespace"}


def load_backend_config(backend_config: Any) -> dict[str, Any]:
    """``backend_config`` as a dict: a mapping, a JSON text, or the path of a JSON file."""
    if backend_config is None:
        return {}
    if isinstance(backend_config, Mapping):
        return dict(backend_config)
    if isinstance(backend_config, (str, os.PathLike)):
        text = os.fspath(backend_config)
        try:
            if os.path.isfile(text):
                if os.path.getsize(text) > 1024 * 1024:
                    raise ProjectError(f"backend_config file {text!r:.200} is larger than 1 MiB")
                text = Path(text).read_text()
            data = json.loads(text)
        except (OSError, ValueError) as exc:
            raise ProjectError(f"backend_config must be a JSON object or the path of a JSON file: {exc}") from None
        if not isinstance(data, dict):
            raise ProjectError("backend_config must be a JSON object")
        return data
    raise ProjectError(f"backend_config must be a mapping or a JSON file path, got {type(backend_config).__name__}")


def _dns_name(text: str) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return (name[:63].rstrip("-")) or "tureen-project"


def render_job(config: Mapping[str, Any], *, project_name: str, run_id: str, image: str, command: str,
               env: Mapping[str, str], extra_env: list[tuple[str, str | None]] | None = None) -> dict[str, Any]:
    """The Job manifest: the template with its name, image, command and environment filled in.

    Raises:
        ProjectError: no template, the template is not a batch/v1 Job with a container, or unknown keys.
    """
    unknown = set(config) - _KNOWN
    if unknown:
        raise ProjectError(f"Unknown kubernetes backend_config keys {sorted(unknown)} (known: {sorted(_KNOWN)})")
    template_path = config.get("kube-job-template-path")
    if not isinstance(template_path, str) or not template_path:
        raise ProjectError("The kubernetes backend needs 'kube-job-template-path' in backend_config: the path of "
                           "a Job YAML template (see docs/projects.md)")
    template = read_yaml_file(Path(template_path), f"The Job template {template_path!r}")
    if not isinstance(template, dict) or template.get("kind") != "Job" or \
            not str(template.get("apiVersion", "")).startswith("batch/"):
        raise ProjectError(f"The Job template {template_path!r} must be a 'kind: Job' (apiVersion batch/v1)")
    job = copy.deepcopy(template)
    try:
        pod = job.setdefault("spec", {}).setdefault("template", {}).setdefault("spec", {})
        containers = pod.get("containers")
        if not isinstance(containers, list) or not containers or not isinstance(containers[0], dict):
            raise ProjectError(f"The Job template {template_path!r} has no spec.template.spec.containers[0]")
    except AttributeError:
        raise ProjectError(f"The Job template {template_path!r} is not a Job manifest") from None
    meta = job.setdefault("metadata", {})
    meta["name"] = _dns_name(f"{project_name}-{run_id[:8]}")
    if config.get("namespace"):
        meta["namespace"] = str(config["namespace"])
    labels = meta.setdefault("labels", {})
    labels["tureen.run-id"] = run_id[:63]
    container = containers[0]
    container["image"] = image
    container["command"] = ["sh", "-c", command]
    container.pop("args", None)
    env_list = [e for e in (container.get("env") or []) if isinstance(e, dict) and e.get("name") not in env]
    env_list += [{"name": k, "value": v} for k, v in env.items()]
    for key, value in extra_env or []:
        if value is None:
            value = os.environ.get(key)
        if value is not None:
            env_list.append({"name": key, "value": value})
    container["env"] = env_list
    pod.setdefault("restartPolicy", "Never")
    job["spec"].setdefault("backoffLimit", 0)
    return job


def kubectl(args: list[str], *, context: str, input_text: str | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    exe = os.environ.get("TUREEN_KUBECTL") or shutil.which("kubectl")
    if not exe:
        raise ProjectBackendError("The kubernetes backend needs 'kubectl' on PATH")
    try:
        return subprocess.run([exe, "--context", context, *args], input=input_text, capture_output=True,
                              text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise ProjectBackendError(f"kubectl {args[0]} did not answer within {timeout:.0f} s") from None


class KubernetesSubmittedRun(SubmittedRun):
    """A Job applied to a cluster; status from ``kubectl get job``, ``cancel()`` deletes the Job."""

    def __init__(self, run_id: str, job_name: str, namespace: str | None, context: str, client: Any,
                 poll_seconds: float = 5.0) -> None:
        self.run_id = run_id
        self.job_name = job_name
        self._ns = ["--namespace", namespace] if namespace else []
        self._context = context
        self._client = client
        self._poll = poll_seconds
        self._status: str | None = None
        self._lock = threading.Lock()

    def _finish(self, status: str) -> str:
        with self._lock:
            if self._status is None:
                self._client.set_terminated(self.run_id, status)
                self._status = status
        return self._status

    def get_status(self) -> str:
        if self._status is not None:
            return self._status
        proc = kubectl(["get", "job", self.job_name, *self._ns, "-o", "json"], context=self._context)
        if proc.returncode != 0:
            return "RUNNING"
        try:
            status = json.loads(proc.stdout).get("status", {})
        except ValueError:
            return "RUNNING"
        for cond in status.get("conditions") or []:
            if cond.get("status") == "True" and cond.get("type") == "Complete":
                return self._finish("FINISHED")
            if cond.get("status") == "True" and cond.get("type") == "Failed":
                return self._finish("FAILED")
        return "RUNNING"

    def wait(self) -> bool:
        while self.get_status() == "RUNNING":
            time.sleep(self._poll)
        return self._status == "FINISHED"

    def cancel(self) -> None:
        kubectl(["delete", "job", self.job_name, *self._ns, "--ignore-not-found"], context=self._context)
        self._finish("KILLED")
