"""ONNX: a two-layer network built with onnx.helper (weights from a fixed seed), saved as one file and with its
weights as external data; MLflow's default (external data under a random file name) loads too."""

from __future__ import annotations

from cases import Built, FlavorCase, as_numpy, table

#: runs on both sides (tureen's venv and the MLflow peer): defines build_onnx()
BUILD = """
def build_onnx():
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(1)
    w1 = numpy_helper.from_array(rng.normal(size=(4, 128)).astype("float32"), "w1")
    b1 = numpy_helper.from_array(rng.normal(size=(128,)).astype("float32"), "b1")
    w2 = numpy_helper.from_array((rng.normal(size=(128, 1)) / 10).astype("float32"), "w2")
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"]), helper.make_node("Add", ["h", "b1"], ["hb"]),
             helper.make_node("Relu", ["hb"], ["r"]), helper.make_node("MatMul", ["r", "w2"], ["score"])]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 4])],
                              [helper.make_tensor_value_info("score", TensorProto.FLOAT, [None, 1])],
                              initializer=[w1, b1, w2])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model
"""


def _build() -> Built:
    namespace: dict = {}
    exec(BUILD, namespace)  # noqa: S102 - our own test code, shared with the MLflow side
    X, y = table()
    return Built(namespace["build_onnx"](), X, y, X.head(5))


def run_onnx(model, X):
    import numpy as np
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return as_numpy(session.run(None, {"x": np.asarray(X, dtype="float32")})[0])


MLFLOW_SAVE = BUILD + """
import mlflow.onnx, mlflow.pyfunc, onnxruntime as ort
m = build_onnx()
expected = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(
    None, {"x": np.asarray(X, dtype="float32")})[0]
for fmt, external in (("external", True), ("single", False)):
    p = f"{root}/{fmt}"
    mlflow.onnx.save_model(build_onnx(), p, save_as_external_data=external, input_example=X.head(3),
                           pip_requirements=[])
    out[fmt] = {"native": tolist(expected), "pyfunc": tolist(mlflow.pyfunc.load_model(p).predict(X))}
"""

MLFLOW_LOAD = """
import mlflow.onnx, mlflow.pyfunc, onnxruntime as ort
m = mlflow.onnx.load_model(path)
out["native"] = tolist(ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(
    None, {"x": np.asarray(X, dtype="float32")})[0])
out["pyfunc"] = tolist(mlflow.pyfunc.load_model(path).predict(X))
"""

_COMMON = dict(module="tureen.flavors.onnx", framework="onnx", build=_build, section="onnx",
               keys={"onnx_version", "data", "providers", "onnx_session_options", "code"},
               loader_module="mlflow.onnx", requirement="onnx", mlflow_load=MLFLOW_LOAD, pickle_kw=None,
               native_predict=run_onnx, bad_dtype=lambda X: X.assign(f0="high"),
               bad_shape=lambda X: X.drop(columns=["f3"]), unsupported=(object(), "PythonModel"),
               version_key="onnx_version", data_file="model.onnx", rtol=1e-5)

CASES = [
    FlavorCase(id="onnx-single-file", mlflow_save=MLFLOW_SAVE, **_COMMON),
    FlavorCase(id="onnx-external-data", mlflow_save="", save_kw={"save_as_external_data": True},
               **{**_COMMON, "data_file": "model.onnx.data"}),
]
