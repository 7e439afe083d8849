"""The pytorch pyfunc loader runs the module once at load, so the first request does not pay its set-up."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.torch


def test_module_runs_once_at_load_on_signature_shaped_zeros(tmp_path):
    from core.tests_support_models import counting_linear
    from tureen import flavors, pyfunc

    module = counting_linear()
    flavors.pytorch.save_model(module, tmp_path / "m", serialization_format="pickle",
                               input_example=np.ones((4, 3), dtype="float32"))
    cls = type(module)
    cls.calls = 0
    model = pyfunc.load_model(tmp_path / "m")
    loaded_cls = type(model.get_raw_model())
    assert loaded_cls.calls == 1
    model.predict(np.ones((1, 3), dtype="float32"))
    assert loaded_cls.calls == 2
