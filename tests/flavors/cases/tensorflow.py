"""TensorFlow/Keras: a Keras 3 Sequential model (.keras) and a tf.Module (SavedModel)."""

from __future__ import annotations

import pytest

from cases import Built, FlavorCase, as_numpy, tensor


def _keras() -> Built:
    import keras

    keras.utils.set_random_seed(0)
    X, y = tensor()
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    return Built(model, X, y, X[:5])


def _module() -> Built:
    import tensorflow as tf

    class Linear(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = tf.Variable([[1.0], [-2.0], [0.5], [3.0]])

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)])
        def __call__(self, x):
            return tf.matmul(x, self.w)

    X, y = tensor(seed=3)
    return Built(Linear(), X, y, X[:5])


def _native(model, X):
    if not callable(model) and hasattr(model, "serve"):  # MLflow's exported Keras SavedModel
        return as_numpy(model.serve(X))
    return as_numpy(model(X))


MLFLOW_SAVE = """
import keras, tensorflow as tf, mlflow.keras, mlflow.tensorflow, mlflow.pyfunc
from mlflow.models import infer_signature
keras.utils.set_random_seed(0)
m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
native = tolist(m(X))
sig = infer_signature(X[:5], m(X[:5]).numpy())
for fmt, save in (("keras", lambda p: mlflow.keras.save_model(m, p, signature=sig, pip_requirements=[])),
                  ("keras-exported", lambda p: mlflow.keras.save_model(m, p, signature=sig, save_exported_model=True,
                                                                       pip_requirements=[])),
                  ("tensorflow-keras", lambda p: mlflow.tensorflow.save_model(m, p, signature=sig,
                                                                              pip_requirements=[]))):
    p = f"{root}/{fmt}"
    save(p)
    out[fmt] = {"native": native, "pyfunc": tolist(mlflow.pyfunc.load_model(p).predict(X))}
class Linear(tf.Module):
    def __init__(self):
        super().__init__()
        self.w = tf.Variable([[1.0], [-2.0], [0.5], [3.0]])
    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)])
    def __call__(self, x):
        return tf.matmul(x, self.w)
mod = Linear()
p = f"{root}/tf2-module"
mlflow.tensorflow.save_model(mod, p, signature=sig, pip_requirements=[])
out["tf2-module"] = {"native": tolist(mod(X)), "pyfunc": tolist(mlflow.pyfunc.load_model(p).predict(X))}
"""

MLFLOW_LOAD_KERAS = """
import keras, mlflow.keras, mlflow.pyfunc
out["native"] = tolist(mlflow.keras.load_model(path)(X))
out["pyfunc"] = tolist(mlflow.pyfunc.load_model(path).predict(X))
"""

MLFLOW_LOAD_MODULE = """
import tensorflow as tf, mlflow.tensorflow, mlflow.pyfunc
out["native"] = tolist(mlflow.tensorflow.load_model(path)(tf.constant(X)))
out["pyfunc"] = tolist(mlflow.pyfunc.load_model(path).predict(X))
"""

CASES = [
    FlavorCase(
        id="keras-sequential", module="tureen.flavors.tensorflow", framework="tensorflow", build=_keras,
        section="keras", keys={"data", "keras_version", "keras_backend", "save_exported_model"},
        loader_module="mlflow.keras", requirement="keras", mlflow_save=MLFLOW_SAVE,
        mlflow_load=MLFLOW_LOAD_KERAS, native_predict=_native, bad_dtype=lambda X: X.astype("float64"),
        bad_shape=lambda X: X[:, :3], unsupported=(object(), "keras"), version_key="keras_version",
        data_file="data/model.keras", rtol=1e-5, marks=[pytest.mark.tensorflow],
        serve_settings={"preload": False}),
    FlavorCase(
        id="tf-module", module="tureen.flavors.tensorflow", framework="tensorflow", build=_module,
        section="tensorflow", keys={"saved_model_dir", "model_type", "code"}, loader_module="mlflow.tensorflow",
        requirement="tensorflow-cpu", mlflow_save="", mlflow_load=MLFLOW_LOAD_MODULE, native_predict=_native,
        # a SavedModel runs graph ops at load (initializers can write files): it passes the unsafe gate
        pickle_kw={},
        bad_dtype=lambda X: X.astype("float64"), bad_shape=lambda X: X[:, :3],
        data_file="tf2model/saved_model.pb", rtol=1e-5, marks=[pytest.mark.tensorflow],
        # TensorFlow's runtime deadlocks in workers forked from a master that loaded a SavedModel
        serve_settings={"preload": False}),
]
