"""Models for the serving tests, in an importable module so that MLflow's server can unpickle them too."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from tureen.pyfunc import PythonModel


class Shapes(PythonModel):
    """Returns each output kind MLflow's protocol knows, chosen by the ``output`` param."""

    def predict(self, context, model_input, params=None):
        params = params or {}
        if params.get("sleep"):
            time.sleep(float(params["sleep"]))
        fail = params.get("fail")
        if fail == "runtime":
            raise RuntimeError("boom from the model")
        if fail == "value":
            raise ValueError("the model dislikes this value")
        df = model_input
        kind = params.get("output") or "array"
        if kind == "frame":
            return pd.DataFrame({"s": df["a"] * 2, "t": df["c"]})
        if kind == "series":
            return pd.Series(df["a"] * 2, name="y")
        if kind == "unnamed_series":
            return pd.Series((df["a"] * 2).to_numpy())
        if kind == "dict":
            return {"n": int(len(df)), "cols": [str(c) for c in df.columns]}
        if kind == "str":
            return "hello"
        if kind == "nan":
            return np.array([np.nan, 1.5])
        if kind == "types":
            return [str(df[c].dtype) for c in df.columns]
        return (df["a"] * 2).to_numpy()


class TensorSum(PythonModel):
    """Sums the last axis of a float32 tensor."""

    def predict(self, context, model_input, params=None):
        return np.asarray(model_input).sum(axis=-1)


class Echo(PythonModel):
    """No signature: describes what it was given."""

    def predict(self, context, model_input, params=None):
        return {"type": type(model_input).__name__, "repr": repr(np.asarray(model_input).tolist())[:200]}


class Ballast(PythonModel):
    """Holds ``mib`` MiB of memory once loaded (for the memory cap); predicts ``tag`` for every row."""

    def __init__(self, mib: int, tag: int) -> None:
        self.mib = mib
        self.tag = tag
        self.ballast = None

    def load_context(self, context):
        self.ballast = np.full(self.mib * 2 ** 17, 1.0)  # written, so resident

    def predict(self, context, model_input, params=None):
        return np.full(len(model_input), self.tag)


class GcProbe(PythonModel):
    """Answers, for every row, how many objects the serving process holds in the collector's frozen generation."""

    def predict(self, context, model_input, params=None):
        import gc

        return [gc.get_freeze_count()] * len(model_input)
