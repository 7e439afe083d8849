"""``tureen serve``: serve a model over HTTP under gunicorn, in the foreground."""

from __future__ import annotations

from typing import Any

import click

__all__ = ["serve"]


@click.command("serve")
@click.argument("model_uri_args", metavar="MODEL_URI | NAME=URI...", nargs=-1)
@click.option("-m", "--model-uri", "model_uri_opt", metavar="URI",
              help="The model to serve (same as the MODEL_URI argument; MLflow's spelling).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="Serve the models of a YAML file (models: {NAME: URI}, and settings such as max_memory).")
@click.option("--registered-models", is_flag=True, default=False,
              help="Serve every alias of the registry's models, at /invocations/NAME@ALIAS.")
@click.option("--max-memory", default=None, metavar="SIZE",
              help="Several models: memory the loaded models may take together (e.g. 2GiB); least recently used "
                   "ones are unloaded to stay under it. [TUREEN_SERVING_MAX_MEMORY; default no cap]")
@click.option("--host", default=None, help="Address to bind. [TUREEN_SERVING_HOST; default 127.0.0.1]")
@click.option("-p", "--port", type=int, default=None,
              help="Port to listen on; 0 picks a free one. [TUREEN_SERVING_PORT; default 5000]")
@click.option("-w", "--workers", type=int, default=None,
              help="Worker processes. [TUREEN_SERVING_WORKERS; default 1]")
@click.option("--worker", type=click.Choice(["loop", "sync", "gthread"]), default=None,
              help="Worker kind: loop (an event loop holds the connections, one dispatcher runs the model), or "
                   "gunicorn's sync / gthread. [TUREEN_SERVING_WORKER; default loop]")
@click.option("--threads", type=int, default=None,
              help="Threads per worker for --worker gthread. [TUREEN_SERVING_THREADS; default 1]")
@click.option("-t", "--timeout", type=float, default=None,
              help="Seconds a request may take before the answer is 504. [TUREEN_SERVING_TIMEOUT; default 60]")
@click.option("--max-request-bytes", default=None, metavar="SIZE",
              help="Largest request body, e.g. 64MiB; larger ones get 413. "
                   "[TUREEN_SERVING_MAX_REQUEST_BYTES; default 64MiB]")
@click.option("--read-timeout", type=float, default=None,
              help="Seconds a client may take to send one whole request; slower ones get 408. "
                   "[TUREEN_SERVING_READ_TIMEOUT; default 30]")
@click.option("--max-connections", type=int, default=None,
              help="Connections one worker holds at most. [TUREEN_SERVING_MAX_CONNECTIONS; default 1000]")
@click.option("--max-batch-size", type=int, default=None, metavar="N",
              help="Micro-batching: merge concurrent requests into one predict of at most N rows (1: off). "
                   "[TUREEN_SERVING_MAX_BATCH_SIZE; default 1]")
@click.option("--max-latency-ms", type=float, default=None, metavar="T",
              help="Micro-batching: under load a batch stays open at most T ms for more requests. "
                   "[TUREEN_SERVING_MAX_LATENCY_MS; default 2]")
@click.option("--preload/--no-preload", default=None,
              help="Load the model once before forking workers, so they share its memory. "
                   "[TUREEN_SERVING_PRELOAD; default on]")
@click.option("--env-manager", type=click.Choice(["local"]), default=None,
              help="Where the model runs: only 'local' (this Python environment).")
@click.option("--model-name", default=None,
              help="The model's name in /v2/models/{name} paths. [default: registered name or directory name]")
@click.option("--model-version", default=None, help="The version reported by /metadata and /v2/models/{name}.")
@click.option("--access-log/--no-access-log", default=None,
              help="One JSON line per request on stderr. [TUREEN_SERVING_ACCESS_LOG; default on]")
@click.option("--strict-json/--no-strict-json", default=None,
              help="Encode NaN/Infinity predictions as null. [TUREEN_SERVING_STRICT_JSON; default off, as MLflow]")
@click.option("--debug/--no-debug", default=None,
              help="Include stack traces in error bodies. [TUREEN_SERVING_DEBUG; default off]")
def serve(model_uri_args: tuple[str, ...], model_uri_opt: str | None, config_file: str | None,
          registered_models: bool, **options: Any) -> None:
    """Serve MODEL_URI (a path, file://, runs:/ or models:/ URI) until Ctrl-C; or several models in one
    server, each as NAME=URI (or from --config, or --registered-models), at /invocations/NAME.

    \b
    Example:
        tureen serve models:/churn/Production --port 5000 --workers 2
        curl -s 127.0.0.1:5000/invocations -H 'Content-Type: application/json' \\
             -d '{"dataframe_split": {"columns": ["tenure", "plan"], "data": [[3, "basic"]]}}'
        tureen serve churn=models:/churn@champion other=./other_model --max-memory 2GiB
    """
    from tureen.serving.settings import ServingSettings
    from tureen.serving.wsgi import model_specs, run, run_many

    args = list(model_uri_args)
    if model_uri_opt:
        if args and args != [model_uri_opt]:
            raise click.UsageError("Give the model URI once: as the MODEL_URI argument or with --model-uri")
        args = [model_uri_opt]
    if not args and not config_file and not registered_models:
        raise click.UsageError("Missing MODEL_URI: the model to serve (a path, runs:/ or models:/ URI), or "
                               "NAME=URI pairs, --config FILE or --registered-models")
    settings = ServingSettings.from_env(**options)
    many = model_specs(args, config=config_file, registered=registered_models, settings=settings)
    if many is None:
        run(args[0], settings)
    else:
        run_many(*many)
