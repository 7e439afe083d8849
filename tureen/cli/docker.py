"""``tureen build-docker`` and ``tureen generate-dockerfile``: container images that serve a model.

Both take the same model and image options; ``build-docker`` also takes the build-only options
(``--build-arg``, ``--platform``, ``--no-cache``) and streams Docker's build log.
"""

from __future__ import annotations

from typing import Any, Callable

import click

_INSTALL_HELP = ("How tureen gets into the image: auto (a wheel of the running checkout when tureen runs from "
                 "a source tree, else the same version from the package index), wheel, index, a path to a "
                 "tureen .whl, or a pip requirement such as 'tureen==0.1.0'.")


def _image_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("-m", "--model-uri", required=True, metavar="URI",
                     help="The model: a path, file://, runs:/ or models:/ URI."),
        click.option("--base-image", default=None, metavar="IMAGE",
                     help="FROM image (default: python:X.Y-slim for the Python the model was saved with). "
                          "Any image with Python >= 3.10 and venv works, e.g. a CUDA image with Python."),
        click.option("--install-tureen", default="auto", show_default=True, metavar="MODE", help=_INSTALL_HELP),
        click.option("--extra-ca-cert", "extra_ca_certs", multiple=True, metavar="PATH",
                     help="A PEM CA certificate to trust inside the image (corporate/intercepting proxies). "
                          "Repeatable."),
        click.option("--pip-index-url", default=None, metavar="URL",
                     help="pip's index URL while building (not kept in the image's environment)."),
        click.option("--pip-extra-index-url", "pip_extra_index_urls", multiple=True, metavar="URL",
                     help="An extra pip index URL while building. Repeatable."),
        click.option("--env", "env", multiple=True, metavar="KEY=VALUE",
                     help="An environment variable baked into the image, e.g. TUREEN_SERVING_WORKERS=4. "
                          "Repeatable; 'docker run -e' overrides it."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.command("build-docker")
@_image_options
@click.option("-n", "--name", required=True, metavar="IMAGE", help="Image name and tag, e.g. churn:3.")
@click.option("--build-arg", "build_args", multiple=True, metavar="KEY=VALUE",
              help="Passed to docker build as --build-arg. Repeatable.")
@click.option("--platform", default=None, metavar="OS/ARCH", help="Target platform, e.g. linux/amd64.")
@click.option("--no-cache", is_flag=True, help="Build without Docker's layer cache.")
@click.option("-q", "--quiet", is_flag=True, help="Do not stream the build log.")
def build_docker(model_uri: str, name: str, base_image: str | None, install_tureen: str,
                 extra_ca_certs: tuple[str, ...], pip_index_url: str | None, pip_extra_index_urls: tuple[str, ...],
                 env: tuple[str, ...], build_args: tuple[str, ...], platform: str | None, no_cache: bool,
                 quiet: bool) -> None:
    """Build a Docker image that serves a model on port 8080.

    \b
    Example:
      tureen build-docker -m models:/churn/Production -n churn:3
      docker run -p 8080:8080 churn:3
    """
    from tureen.docker import build_image

    result = build_image(model_uri, name, base_image=base_image, install_tureen=install_tureen,
                         extra_ca_certs=extra_ca_certs, pip_index_url=pip_index_url,
                         pip_extra_index_urls=pip_extra_index_urls, env=env, build_args=build_args,
                         platform=platform, no_cache=no_cache,
                         log=None if quiet else (lambda line: click.echo(line, err=True)))
    click.echo(f"Built {result.name} ({result.image_id}). Run it with: docker run -p 8080:8080 {result.name}")


@click.command("generate-dockerfile")
@_image_options
@click.option("-d", "--output-directory", default="tureen-dockerfile", show_default=True, metavar="DIR",
              help="Where to write the build context (Dockerfile, model, requirements).")
def generate_dockerfile(model_uri: str, output_directory: str, base_image: str | None, install_tureen: str,
                        extra_ca_certs: tuple[str, ...], pip_index_url: str | None,
                        pip_extra_index_urls: tuple[str, ...], env: tuple[str, ...]) -> None:
    """Write an editable Docker build context that serves a model.

    \b
    Example:
      tureen generate-dockerfile -m models:/churn/Production -d build/
      docker build -t churn:3 build/
    """
    from tureen.docker import generate_dockerfile as generate

    path = generate(model_uri, output_directory, base_image=base_image, install_tureen=install_tureen,
                    extra_ca_certs=extra_ca_certs, pip_index_url=pip_index_url,
                    pip_extra_index_urls=pip_extra_index_urls, env=env)
    click.echo(f"Wrote {path}. Build it with: docker build -t NAME {path.parent}")
