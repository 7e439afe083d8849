"""fastai: a tabular regression learner (one categorical and three continuous columns, fastai's Categorify /
FillMissing / Normalize preprocessing) trained one epoch from a fixed seed. Its export is a pickle, so the
default format loads only through the unsafe gate. MLflow 3.17.2 has no fastai flavor (``mlflow.fastai`` was
removed), so neither interop direction can run against the peer."""

from __future__ import annotations

import pytest

from cases import Built, FlavorCase, as_numpy


def _build() -> Built:
    import warnings

    import numpy as np
    import pandas as pd
    from fastai.tabular.all import Categorify, FillMissing, Normalize, TabularDataLoaders, set_seed, tabular_learner

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"color": rng.choice(["red", "green", "blue"], 64), "f0": rng.normal(size=64),
                      "f1": rng.normal(size=64), "f2": rng.normal(size=64)})
    y = (X["f0"] * 2 - X["f1"] + (X["color"] == "red")).astype("float32")
    set_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dls = TabularDataLoaders.from_df(X.assign(y=y), cat_names=["color"], cont_names=["f0", "f1", "f2"],
                                         y_names="y", procs=[Categorify, FillMissing, Normalize], bs=16,
                                         valid_idx=list(range(48, 64)))
        learn = tabular_learner(dls, layers=[16])
        with learn.no_bar(), learn.no_logging():
            learn.fit(1)
    return Built(learn, X, y, X.head(5))


def _native(learn, X):
    with learn.no_bar():
        return as_numpy(learn.get_preds(dl=learn.dls.test_dl(X))[0])


CASES = [
    FlavorCase(id="fastai-tabular", module="tureen.flavors.fastai", framework="fastai", build=_build,
               section="fastai", keys={"fastai_version", "data", "code"}, loader_module="mlflow.fastai",
               requirement="fastai", mlflow_save="", mlflow_load="", pickle_kw={}, native_predict=_native,
               bad_dtype=lambda X: X.assign(f0="high"), bad_shape=lambda X: X.drop(columns=["f1"]),
               unsupported=(object(), "Learner"), version_key="fastai_version", data_file="model.fastai",
               rtol=1e-5, marks=[pytest.mark.torch]),  # fastai runs on PyTorch
]
