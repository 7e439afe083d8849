"""Settings: defaults, TUREEN_SERVING_* variables, explicit values, and clear errors."""

from __future__ import annotations

import pytest

from tureen.exceptions import InvalidParameterError
from tureen.serving.settings import ServingSettings
from tureen.serving.wsgi import gunicorn_options


def test_precedence_defaults_env_explicit():
    assert ServingSettings.from_env({}).port == 5000
    env = {"TUREEN_SERVING_PORT": "8080", "TUREEN_SERVING_WORKERS": "3", "TUREEN_SERVING_PRELOAD": "false",
           "TUREEN_SERVING_MAX_REQUEST_BYTES": "2MiB", "TUREEN_SERVING_TIMEOUT": "2.5"}
    s = ServingSettings.from_env(env)
    assert (s.port, s.workers, s.preload, s.max_request_bytes, s.timeout) == (8080, 3, False, 2 * 1024 ** 2, 2.5)
    s = ServingSettings.from_env(env, port=9000, workers=None, max_request_bytes="10MB")
    assert (s.port, s.workers, s.max_request_bytes) == (9000, 3, 10_000_000)


@pytest.mark.parametrize("env,fragment", [
    ({"TUREEN_SERVING_PORT": "http"}, "TUREEN_SERVING_PORT"),
    ({"TUREEN_SERVING_PRELOAD": "maybe"}, "TUREEN_SERVING_PRELOAD must be a boolean, one of true/false"),
    ({"TUREEN_SERVING_WORKERS": "0"}, "workers must be at least 1"),
    ({"TUREEN_SERVING_ENV_MANAGER": "conda"}, "not supported"),
    ({"TUREEN_SERVING_TIMEOUT": "-1"}, "timeout must be positive"),
])
def test_bad_values_are_named(env, fragment):
    with pytest.raises(InvalidParameterError, match=fragment):
        ServingSettings.from_env(env)


def test_gunicorn_options():
    opts = gunicorn_options(ServingSettings(port=0, worker="gthread", threads=4, timeout=10, host="::1"))
    assert opts["bind"] == ["[::1]:0"] and opts["worker_class"] == "gthread" and opts["threads"] == 4
    assert opts["timeout"] > 10  # gunicorn's hard kill comes well after our 504
    # the default: tureen's event-loop worker (slow clients never hold the model), gunicorn's sync on request
    assert gunicorn_options(ServingSettings())["worker_class"] == "tureen.serving.worker.LoopWorker"
    assert gunicorn_options(ServingSettings(worker="sync"))["worker_class"] == "sync"
    with pytest.raises(InvalidParameterError, match="worker must be one of"):
        ServingSettings(worker="gevent")
    assert gunicorn_options(ServingSettings())["preload_app"] is True
