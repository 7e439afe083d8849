"""The pytorch pyfunc's predict: its answers match the module's own, gradients are off during the call and the
caller's grad mode is back afterwards (also after an error, and per thread), and inputs are never written to."""

from __future__ import annotations

import threading

import numpy as np
import pytest

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


@pytest.fixture(scope="module")
def loaded(torch, tmp_path_factory):
    from tureen import flavors, pyfunc

    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2)).eval()
    path = tmp_path_factory.mktemp("pt") / "m"
    flavors.pytorch.save_model(module, path, input_example=np.ones((3, 4), dtype="float32"))
    model = pyfunc.load_model(path)
    return model.get_raw_model(), model  # answers are compared with the loaded module's own


def _expected(torch, module, x):
    with torch.no_grad():
        return module(torch.from_numpy(np.array(x, dtype=np.float32, copy=True))).numpy()


def test_answers_equal_the_modules_own_for_views_read_only_and_strided_arrays(torch, loaded):
    module, model = loaded
    base = np.random.default_rng(0).normal(size=(6, 8)).astype("float32")
    contiguous = base[:, :4].copy()
    read_only = contiguous.copy()
    read_only.flags.writeable = False
    strided = base[:, ::2]  # not C-contiguous
    fortran = np.asfortranarray(contiguous)
    for x in (contiguous, contiguous[:1], read_only, strided, fortran):
        got = model.predict(x)
        # float32 matmul kernels may differ in the last bit with the buffer's alignment: equal to ~1 ulp
        np.testing.assert_allclose(got, _expected(torch, module, x), rtol=1e-6, atol=1e-7)
    assert not read_only.flags.writeable


def test_input_array_is_not_written_and_result_does_not_alias_it(torch, loaded):
    _, model = loaded
    x = np.random.default_rng(1).normal(size=(2, 4)).astype("float32")
    before = x.copy()
    out = model.predict(x)
    out[...] = 0
    np.testing.assert_array_equal(x, before)


def test_dataframe_input_keeps_its_index(torch, loaded):
    import pandas as pd

    module, model = loaded
    raw = model.get_raw_model()
    x = np.random.default_rng(2).normal(size=(3, 4))
    frame = pd.DataFrame(x, columns=[f"c{i}" for i in range(4)], index=[10, 11, 12])
    impl = model._impl  # the flavor's predictor: a DataFrame goes straight to it (no tensor signature check)
    got = impl.predict(frame)
    assert list(got.index) == [10, 11, 12]
    np.testing.assert_allclose(got.to_numpy(), _expected(torch, module, x), rtol=1e-6, atol=1e-7)
    assert raw is impl.get_raw_model()


def test_gradients_are_off_during_the_call_and_restored_after(torch, tmp_path):
    from tureen import flavors, pyfunc

    class Probe(torch.nn.Module):
        seen: list[bool] = []

        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(2, 1)

        def forward(self, x):
            type(self).seen.append(torch.is_grad_enabled())
            return self.lin(x)

    flavors.pytorch.save_model(Probe(), tmp_path / "m", serialization_format="pickle",
                               input_example=np.ones((2, 2), dtype="float32"))
    model = pyfunc.load_model(tmp_path / "m")
    cls = type(model.get_raw_model())
    cls.seen.clear()
    x = np.ones((1, 2), dtype="float32")
    for mode in (True, False, True):
        with torch.set_grad_enabled(mode):
            out = model.predict(x)
            assert torch.is_grad_enabled() is mode
        assert isinstance(out, np.ndarray)
    assert cls.seen == [False, False, False]


def test_grad_mode_restored_after_a_failing_call(torch, loaded):
    from tureen.exceptions import SchemaEnforcementError

    _, model = loaded
    impl = model._impl
    with torch.set_grad_enabled(True):
        with pytest.raises(SchemaEnforcementError):
            impl.predict(np.ones((1, 3), dtype="float32"))  # wrong width
        assert torch.is_grad_enabled()


def test_other_threads_grad_mode_is_untouched(torch, loaded):
    _, model = loaded
    x = np.ones((1, 4), dtype="float32")
    stop = threading.Event()
    seen: list[bool] = []

    def watcher():
        torch.set_grad_enabled(True)
        while not stop.is_set():
            seen.append(torch.is_grad_enabled())

    t = threading.Thread(target=watcher)
    t.start()
    try:
        for _ in range(200):
            model.predict(x)
    finally:
        stop.set()
        t.join()
    assert seen and all(seen)


def test_batches_split_and_joined_in_order(torch, tmp_path):
    from tureen import flavors, pyfunc

    torch.manual_seed(1)
    module = torch.nn.Linear(4, 3).eval()
    flavors.pytorch.save_model(module, tmp_path / "m", input_example=np.ones((2, 4), dtype="float32"))
    model = pyfunc.load_model(tmp_path / "m", model_config={"batch_size": 3})
    x = np.random.default_rng(3).normal(size=(8, 4)).astype("float32")
    raw = model.get_raw_model()
    parts = [_expected(torch, raw, x[i:i + 3]) for i in range(0, 8, 3)]
    np.testing.assert_allclose(model.predict(x), np.concatenate(parts), rtol=1e-6, atol=1e-7)


def test_a_module_returning_a_grad_requiring_tensor_still_converts(torch, tmp_path):
    from tureen import flavors, pyfunc

    class Leaky(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(1, 2))

        def forward(self, x):
            return self.w  # the parameter itself: it requires grad even with gradients off

    flavors.pytorch.save_model(Leaky(), tmp_path / "m", serialization_format="pickle",
                               input_example=np.ones((2, 2), dtype="float32"))
    out = pyfunc.load_model(tmp_path / "m").predict(np.ones((1, 2), dtype="float32"))
    np.testing.assert_array_equal(out, np.ones((1, 2), dtype="float32"))
