"""``tureen generate-k8s``: Kubernetes manifests for a model image built by ``tureen build-docker``."""

from __future__ import annotations

from typing import Any

import click

__all__ = ["generate_k8s"]


@click.command("generate-k8s")
@click.option("-m", "--model-uri", required=True, metavar="URI",
              help="The model the image serves (its registered or directory name names the manifests).")
@click.option("--image", required=True, help="The image built by `tureen build-docker`, e.g. registry/team/churn:3.")
@click.option("--name", default=None, help="Name of the Deployment, Service and autoscaler. [default: from the URI]")
@click.option("--namespace", default=None, help="Namespace to put in the manifests. [default: none]")
@click.option("--replicas", type=int, default=2, show_default=True, help="Pods of the Deployment.")
@click.option("--min-replicas", type=int, default=2, show_default=True, help="Autoscaler minimum.")
@click.option("--max-replicas", type=int, default=10, show_default=True, help="Autoscaler maximum.")
@click.option("--target-cpu", type=int, default=70, show_default=True, help="Autoscaler target CPU percent.")
@click.option("--cpu", default="1", show_default=True, help="CPU request per pod.")
@click.option("--memory", default="1Gi", show_default=True, help="Memory request per pod.")
@click.option("--memory-limit", default="2Gi", show_default=True, help="Memory limit per pod.")
@click.option("--workers", type=int, default=None, help="TUREEN_SERVING_WORKERS in the pod.")
@click.option("--max-batch-size", type=int, default=None, help="TUREEN_SERVING_MAX_BATCH_SIZE in the pod.")
@click.option("--startup-seconds", type=int, default=300, show_default=True,
              help="How long the model may take to load before liveness probes count.")
@click.option("--service-type", type=click.Choice(["ClusterIP", "NodePort", "LoadBalancer"]), default="ClusterIP",
              show_default=True)
@click.option("--kserve", is_flag=True, help="Also write a KServe InferenceService running the same container.")
@click.option("-e", "--env", "env", multiple=True, metavar="NAME=VALUE", help="Extra environment variable (repeat).")
@click.option("-o", "--output", default=None, metavar="DIR",
              help="Write one YAML file per manifest into DIR. [default: all on stdout]")
def generate_k8s(model_uri: str, image: str, name: str | None, output: str | None, env: tuple[str, ...],
                 **options: Any) -> None:
    """Write a Deployment, Service and HorizontalPodAutoscaler (and with --kserve an InferenceService).

    \b
    Example:
        tureen build-docker -m models:/churn@champion -n registry.example.com/team/churn:3
        tureen generate-k8s -m models:/churn@champion --image registry.example.com/team/churn:3 -o k8s/
        kubectl apply -f k8s/
    """
    from tureen.exceptions import InvalidParameterError
    from tureen.serving.k8s import K8sOptions, manifests, name_from_uri, to_yaml, write_manifests

    pairs = []
    for item in env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidParameterError(f"--env wants NAME=VALUE, got {item!r}")
        pairs.append((key, value))
    opts = K8sOptions(name=name or name_from_uri(model_uri), image=image, env=tuple(pairs),
                      target_cpu_percent=options.pop("target_cpu"), **options)
    docs = manifests(opts)
    if output is None:
        click.echo(to_yaml(docs), nl=False)
        return
    for path in write_manifests(output, docs):
        click.echo(str(path))
