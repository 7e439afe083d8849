"""Kubernetes manifests for a model image built by ``tureen build-docker``: Deployment, Service, autoscaler, KServe.

The image already holds the model and runs ``tureen serve`` on port 8080 as uid 10001 (see
``docs/containers.md``); these manifests run it: liveness on ``/ping`` (answered by the worker's event loop
even while the model is busy), readiness on ``/ready``, a startup probe that gives a slow model load time
before liveness counts, resources, a non-root read-only pod, a Service, a HorizontalPodAutoscaler on CPU and,
on request, a KServe ``InferenceService`` with the same container.

Example:
    >>> docs = manifests(K8sOptions(name="churn", image="registry.example.com/churn:3"))
    >>> [d["kind"] for d in docs]
    ['Deployment', 'Service', 'HorizontalPodAutoscaler']
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tureen.exceptions import InvalidParameterError

__all__ = ["K8sOptions", "manifests", "write_manifests", "name_from_uri", "to_yaml"]

PORT = 8080
USER_ID = 10001
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_QUANTITY = re.compile(r"^([0-9]+(\.[0-9]+)?)(m|Ki|Mi|Gi|Ti|k|M|G|T)?$")


@dataclass(frozen=True)
class K8sOptions:
    """What the manifests say. ``name`` must be a DNS-1035 label (lower case, digits, ``-``; at most 63).

    Example:
        >>> K8sOptions(name="churn", image="churn:3").replicas
        2
    """

    name: str
    image: str
    namespace: str | None = None
    replicas: int = 2
    min_replicas: int = 2
    max_replicas: int = 10
    target_cpu_percent: int = 70
    cpu: str = "1"
    memory: str = "1Gi"
    memory_limit: str = "2Gi"
    workers: int | None = None
    max_batch_size: int | None = None
    startup_seconds: int = 300
    service_type: str = "ClusterIP"
    kserve: bool = False
    env: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        problems = []
        if not (_NAME.match(self.name or "") and len(self.name) <= 63 and self.name[0].isalpha()):
            problems.append(f"name {self.name!r} is not a DNS-1035 label (a-z, 0-9, '-', starting with a letter, "
                            "at most 63 characters); pass --name")
        if not self.image or any(c.isspace() for c in self.image):
            problems.append(f"image {self.image!r} is not an image reference")
        if self.namespace is not None and not (_NAME.match(self.namespace) and len(self.namespace) <= 63):
            problems.append(f"namespace {self.namespace!r} is not a DNS-1123 label")
        if self.replicas < 1 or self.min_replicas < 1 or self.max_replicas < self.min_replicas:
            problems.append("replicas and min_replicas must be at least 1 and max_replicas at least min_replicas "
                            f"(got {self.replicas}, {self.min_replicas}, {self.max_replicas})")
        if not 1 <= self.target_cpu_percent <= 100:
            problems.append(f"target CPU must be 1..100 percent, got {self.target_cpu_percent}")
        for label, q in (("cpu", self.cpu), ("memory", self.memory), ("memory limit", self.memory_limit)):
            if not _QUANTITY.match(str(q)):
                problems.append(f"{label} {q!r} is not a Kubernetes quantity (e.g. 500m, 1, 512Mi, 2Gi)")
        if self.startup_seconds < 1:
            problems.append(f"startup_seconds must be positive, got {self.startup_seconds}")
        if self.service_type not in ("ClusterIP", "NodePort", "LoadBalancer"):
            problems.append(f"service type must be ClusterIP, NodePort or LoadBalancer, got {self.service_type!r}")
        if problems:
            raise InvalidParameterError("Invalid Kubernetes options: " + "; ".join(problems))


def name_from_uri(uri: str) -> str:
    """A DNS-1035 name from a model URI: the registered name, else the directory's name.

    Example:
        >>> name_from_uri("models:/Churn_Model@champion")
        'churn-model'
    """
    text = str(uri)
    if text.startswith("models:/"):
        base = text[len("models:/"):].strip("/").split("/")[0].split("@")[0]
    else:
        base = Path(text.rstrip("/").split("://", 1)[-1]).name
    base = re.sub(r"[^a-z0-9-]+", "-", base.lower()).strip("-")
    base = re.sub(r"^[^a-z]+", "", base)[:63].rstrip("-")
    return base or "model"


def _container(o: K8sOptions, container_name: str) -> dict[str, Any]:
    env = [{"name": "TUREEN_SERVING_PORT", "value": str(PORT)}, {"name": "TUREEN_SERVING_HOST", "value": "0.0.0.0"}]
    if o.workers:
        env.append({"name": "TUREEN_SERVING_WORKERS", "value": str(o.workers)})
    if o.max_batch_size:
        env.append({"name": "TUREEN_SERVING_MAX_BATCH_SIZE", "value": str(o.max_batch_size)})
    env += [{"name": k, "value": v} for k, v in o.env]
    period = 2
    return {
        "name": container_name,
        "image": o.image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "env": env,
        "resources": {"requests": {"cpu": str(o.cpu), "memory": str(o.memory)},
                      "limits": {"memory": str(o.memory_limit)}},
        # the model may take long to load: liveness and readiness only count once /ready has answered 200
        "startupProbe": {"httpGet": {"path": "/ready", "port": PORT}, "periodSeconds": period,
                         "failureThreshold": max(1, -(-o.startup_seconds // period))},
        "readinessProbe": {"httpGet": {"path": "/ready", "port": PORT}, "periodSeconds": 5, "timeoutSeconds": 2,
                           "failureThreshold": 2},
        "livenessProbe": {"httpGet": {"path": "/ping", "port": PORT}, "periodSeconds": 10, "timeoutSeconds": 2,
                          "failureThreshold": 3},
        "securityContext": {"runAsNonRoot": True, "runAsUser": USER_ID, "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }


def _meta(o: K8sOptions, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": o.name, "labels": {"app.kubernetes.io/name": o.name,
                                                       "app.kubernetes.io/managed-by": "tureen"}}
    if o.namespace:
        meta["namespace"] = o.namespace
    meta.update(extra)
    return meta


def _pod_spec(o: K8sOptions, container_name: str = "model") -> dict[str, Any]:
    return {
        "securityContext": {"runAsNonRoot": True, "runAsUser": USER_ID, "runAsGroup": USER_ID,
                            "fsGroup": USER_ID, "seccompProfile": {"type": "RuntimeDefault"}},
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": 40,  # the server lets requests in flight finish on SIGTERM (30 s)
        "containers": [_container(o, container_name)],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }


def manifests(o: K8sOptions) -> list[dict[str, Any]]:
    """The manifests as dicts: Deployment, Service, HorizontalPodAutoscaler (and the InferenceService with
    ``kserve``)."""
    selector = {"app.kubernetes.io/name": o.name}
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(o),
        "spec": {
            "replicas": o.replicas,
            "selector": {"matchLabels": selector},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": dict(selector),
                             "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": str(PORT),
                                             "prometheus.io/path": "/metrics"}},
                "spec": _pod_spec(o),
            },
        },
    }
    service = {"apiVersion": "v1", "kind": "Service", "metadata": _meta(o),
               "spec": {"type": o.service_type, "selector": selector,
                        "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]}}
    hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": _meta(o),
           "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": o.name},
                    "minReplicas": o.min_replicas, "maxReplicas": o.max_replicas,
                    "metrics": [{"type": "Resource", "resource": {
                        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": o.target_cpu_percent}}}]}}
    out = [deployment, service, hpa]
    if o.kserve:
        pod = _pod_spec(o, container_name="kserve-container")  # KServe's name for a custom predictor container
        predictor = {"minReplicas": o.min_replicas, "maxReplicas": o.max_replicas, **pod}
        out.append({"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
                    "metadata": _meta(o, annotations={"serving.kserve.io/deploymentMode": "RawDeployment"}),
                    "spec": {"predictor": predictor}})
    return out


def to_yaml(docs: list[dict[str, Any]]) -> str:
    """The manifests as one multi-document YAML text."""
    import yaml

    return "".join("---\n" + yaml.safe_dump(d, sort_keys=False) for d in docs)


_FILES = {"Deployment": "deployment.yaml", "Service": "service.yaml", "HorizontalPodAutoscaler": "hpa.yaml",
          "InferenceService": "inferenceservice.yaml"}


def write_manifests(directory: str | os.PathLike[str], docs: list[dict[str, Any]]) -> list[Path]:
    """Write one file per manifest into ``directory`` (each written to a temp file, then renamed).

    Example:
        >>> write_manifests("k8s", manifests(K8sOptions(name="churn", image="churn:3")))  # doctest: +SKIP
        [PosixPath('k8s/deployment.yaml'), PosixPath('k8s/service.yaml'), PosixPath('k8s/hpa.yaml')]
    """
    out = Path(directory)
    if out.exists() and not out.is_dir():
        raise InvalidParameterError(f"{out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for doc in docs:
        target = out / _FILES[doc["kind"]]
        fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(to_yaml([doc]))
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(target)
    return written
