"""fastai specifics beyond the conformance suite: a hostile export (a pickle that runs code, in a model whose
digests match) is never unpickled with pickle loading off, a data path leaving the model is refused, a
classifier answers one probability column per class, and the ParamScheduler of fit_one_cycle survives a save."""

from __future__ import annotations

import pickle
import shutil

import numpy as np
import pytest

from cases import fastai as fastai_case

from tureen import pyfunc
from tureen.exceptions import UnsafeDeserializationError, TureenError
from tureen.flavors import fastai as tfa
from tureen.flavors._integrity import seal_model_dir
from tureen.models import Model

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def built():
    return fastai_case._build()


@pytest.fixture(scope="module")
def saved(built, tmp_path_factory):
    path = tmp_path_factory.mktemp("fastai") / "model"
    tfa.save_model(built.model, path, input_example=built.example)
    return path


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))  # creating the file is the "code" the artifact runs


def test_hostile_export_is_never_unpickled_with_pickle_off(saved, tmp_path):
    path = tmp_path / "hostile"
    shutil.copytree(saved, path)
    marker = tmp_path / "ran"
    (path / "model.fastai").write_bytes(pickle.dumps(_Payload(str(marker))))
    seal_model_dir(path, Model.load(path))  # the attacker records matching digests
    with pytest.raises(UnsafeDeserializationError):
        pyfunc.load_model(path, allow_pickle=False)
    with pytest.raises(UnsafeDeserializationError):
        tfa.load_model(path, allow_pickle=False)
    assert not marker.exists()
    assert tfa.needs_pickle(path, Model.load(path).get_flavor("fastai"))


def test_data_path_outside_the_model_is_refused(saved, tmp_path):
    path = tmp_path / "escape"
    shutil.copytree(saved, path)
    outside = tmp_path / "elsewhere.fastai"
    shutil.copy(saved / "model.fastai", outside)
    meta = Model.load(path)
    meta.flavors["fastai"]["data"] = "../elsewhere.fastai"
    seal_model_dir(path, meta)
    with pytest.raises(TureenError, match="outside|escapes|leaves"):
        tfa.load_model(path)


def test_classifier_answers_one_probability_column_per_class(built, tmp_path):
    import warnings

    from fastai.tabular.all import CategoryBlock, Normalize, TabularDataLoaders, set_seed, tabular_learner

    X = built.X
    labels = np.where(built.y.to_numpy() > 0.5, "high", "low")
    set_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dls = TabularDataLoaders.from_df(X.assign(level=labels), cont_names=["f0", "f1", "f2"], y_names="level",
                                         y_block=CategoryBlock(), procs=[Normalize], bs=16,
                                         valid_idx=list(range(48, 64)))
        learn = tabular_learner(dls, layers=[8])
        with learn.no_bar(), learn.no_logging():
            learn.fit(2)
    path = tmp_path / "clf"
    tfa.save_model(learn, path, input_example=X[["f0", "f1", "f2"]].head(3))
    out = pyfunc.load_model(path).predict(X[["f0", "f1", "f2"]])
    assert list(out.columns) == ["high", "low"]
    with learn.no_bar():
        want = learn.get_preds(dl=learn.dls.test_dl(X))[0].numpy()
    np.testing.assert_allclose(out.to_numpy(), want, rtol=1e-5, atol=1e-6)
    assert Model.load(path).signature.outputs.input_names() == ["high", "low"]


def test_param_scheduler_is_put_back_after_the_export(built, tmp_path):
    from fastai.callback.schedule import ParamScheduler, SchedCos

    learn = built.model
    scheduler = ParamScheduler({"lr": SchedCos(1e-3, 1e-4)})
    learn.add_cb(scheduler)
    try:
        tfa.save_model(learn, tmp_path / "sched")
        assert scheduler in learn.cbs
        loaded = tfa.load_model(tmp_path / "sched")
        assert not any(isinstance(cb, ParamScheduler) for cb in loaded.cbs)
    finally:
        learn.remove_cb(scheduler)
