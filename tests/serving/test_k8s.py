"""`tureen generate-k8s`: every manifest validated offline against the Kubernetes schemas (kubernetes-validate)."""

from __future__ import annotations

import subprocess
import sys

import kubernetes_validate
import pytest
import yaml

from tureen.exceptions import InvalidParameterError
from tureen.serving.k8s import K8sOptions, manifests, name_from_uri

K8S_VERSION = kubernetes_validate.latest_version()


def _validate(doc: dict) -> None:
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)  # strict: unknown fields are errors too


def _cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tureen.cli", "generate-k8s", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


def test_cli_writes_valid_manifests_with_the_probes_and_a_non_root_pod(tmp_path):
    res = _cli("-m", "models:/Churn_Model@champion", "--image", "registry.example.com/team/churn:3", "--workers", "2",
               "--max-batch-size", "32", "--kserve", "-e", "EXTRA=1", "-o", str(tmp_path / "k8s"))
    assert res.returncode == 0, res.stderr
    files = sorted(p.name for p in (tmp_path / "k8s").iterdir())
    assert files == ["deployment.yaml", "hpa.yaml", "inferenceservice.yaml", "service.yaml"]
    docs = {p.name: yaml.safe_load(p.read_text()) for p in (tmp_path / "k8s").iterdir()}
    for name in ("deployment.yaml", "service.yaml", "hpa.yaml"):
        _validate(docs[name])
    dep = docs["deployment.yaml"]
    assert dep["metadata"]["name"] == "churn-model"
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert c["livenessProbe"]["httpGet"]["path"] == "/ping" and c["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert c["startupProbe"]["httpGet"]["path"] == "/ready"
    assert c["startupProbe"]["periodSeconds"] * c["startupProbe"]["failureThreshold"] >= 300
    assert pod["securityContext"]["runAsNonRoot"] is True and c["securityContext"]["runAsUser"] == 10001
    assert c["resources"]["requests"] == {"cpu": "1", "memory": "1Gi"}
    env = {e["name"]: e["value"] for e in c["env"]}
    assert env["TUREEN_SERVING_WORKERS"] == "2" and env["TUREEN_SERVING_MAX_BATCH_SIZE"] == "32"
    assert env["EXTRA"] == "1" and env["TUREEN_SERVING_PORT"] == "8080"
    svc, hpa = docs["service.yaml"], docs["hpa.yaml"]
    assert svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "churn-model"
    # KServe's CRD is not in the core schemas: its predictor is a PodSpec, validated as one inside a Pod
    isvc = docs["inferenceservice.yaml"]
    assert isvc["apiVersion"] == "serving.kserve.io/v1beta1" and isvc["kind"] == "InferenceService"
    predictor = dict(isvc["spec"]["predictor"])
    assert (predictor.pop("minReplicas"), predictor.pop("maxReplicas")) == (2, 10)
    assert predictor["containers"][0]["name"] == "kserve-container"
    _validate({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": predictor})
    # its metadata is an ordinary ObjectMeta: validated as one on a core kind
    _validate({"apiVersion": "v1", "kind": "ConfigMap", "metadata": isvc["metadata"]})
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "RawDeployment"
    assert set(isvc) == {"apiVersion", "kind", "metadata", "spec"} and set(isvc["spec"]) == {"predictor"}


def test_stdout_is_a_multi_document_yaml_that_validates():
    res = _cli("-m", "./models/fraud", "--image", "fraud:1", "--namespace", "ml", "--service-type", "LoadBalancer")
    assert res.returncode == 0, res.stderr
    docs = list(yaml.safe_load_all(res.stdout))
    assert [d["kind"] for d in docs] == ["Deployment", "Service", "HorizontalPodAutoscaler"]
    for d in docs:
        _validate(d)
        assert d["metadata"]["namespace"] == "ml" and d["metadata"]["name"] == "fraud"


def test_a_validator_that_can_fail_does():
    dep = manifests(K8sOptions(name="churn", image="churn:3"))[0]
    dep["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["prot"] = 1
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate(dep)


@pytest.mark.parametrize("args,fragment", [
    (["--name", "Bad_Name"], "DNS-1035"),
    (["--memory", "lots"], "not a Kubernetes quantity"),
    (["--min-replicas", "5", "--max-replicas", "2"], "max_replicas"),
    (["--target-cpu", "0"], "target CPU"),
    (["-e", "NOVALUE"], "NAME=VALUE"),
])
def test_bad_options_are_one_line_typed_errors(tmp_path, args, fragment):
    res = _cli("-m", "x", "--image", "x:1", *args, "-o", str(tmp_path / "out"))
    assert res.returncode == 1 and fragment in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_names_from_uris():
    assert name_from_uri("models:/churn/Production") == "churn"
    assert name_from_uri("runs:/abc123/model") == "model"
    assert name_from_uri("/tmp/9lives_Model/") == "lives-model"
    with pytest.raises(InvalidParameterError):
        K8sOptions(name="x" * 64, image="a:1")
