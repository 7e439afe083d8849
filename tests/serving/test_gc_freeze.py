"""The loaded model is frozen out of the garbage collector's walks (``gc_freeze``), and unloading still frees it."""
from __future__ import annotations

import gc
import json
import urllib.request
import weakref
from pathlib import Path

import pytest

from tureen.serving.settings import ServingSettings
from tureen.serving.testing import serve_in_background

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def probe_model(tmp_path_factory):
    from _serving_models import GcProbe
    from tureen.pyfunc import save_model

    path = tmp_path_factory.mktemp("gc") / "probe"
    save_model(path, python_model=GcProbe(), code_paths=[str(HERE / "_serving_models.py")],
               pip_requirements=["numpy"])
    return path


@pytest.fixture
def unfrozen():
    yield
    gc.unfreeze()


def _frozen_in_worker(url: str) -> int:
    body = json.dumps({"dataframe_split": {"columns": ["x"], "data": [[1.0]]}}).encode()
    req = urllib.request.Request(url + "/invocations", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())["predictions"][0]


def test_freeze_loaded_heap_freezes_what_is_alive(unfrozen):
    from tureen.serving.wsgi import freeze_loaded_heap

    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    assert freeze_loaded_heap() == gc.get_freeze_count() > 1000


def test_unloading_collects_a_frozen_model_cycle(unfrozen):
    from tureen.serving.repository import _trim
    from tureen.serving.wsgi import freeze_loaded_heap

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle: only the collector frees it
    probe = weakref.ref(a)
    freeze_loaded_heap()
    del a, b
    gc.collect()
    assert probe() is not None  # frozen: an ordinary collection skips it
    _trim()
    assert probe() is None
    assert gc.get_freeze_count() > 0  # what survived is frozen again


def test_setting_from_environment():
    assert ServingSettings().gc_freeze is True
    assert ServingSettings.from_env({"TUREEN_SERVING_GC_FREEZE": "false"}).gc_freeze is False


@pytest.mark.parametrize("preload", [True, False])
def test_workers_serve_with_a_frozen_heap(probe_model, preload):
    with serve_in_background(probe_model, preload=preload) as url:
        assert _frozen_in_worker(url) > 1000


def test_gc_freeze_off_leaves_the_heap_alone(probe_model):
    with serve_in_background(probe_model, gc_freeze=False) as url:
        assert _frozen_in_worker(url) == 0
