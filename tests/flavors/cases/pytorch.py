"""PyTorch: a small MLP saved as a torch.export program (pt2, the default)."""

from __future__ import annotations

import pytest

from cases import Built, FlavorCase, as_numpy, tensor

try:
    import torch

    class TinyNet(torch.nn.Module):
        def __init__(self, n_in: int = 4, hidden: int = 8) -> None:
            super().__init__()
            self.l1 = torch.nn.Linear(n_in, hidden)
            self.l2 = torch.nn.Linear(hidden, 1)

        def forward(self, x):
            return self.l2(torch.relu(self.l1(x)))
except ImportError:  # pragma: no cover - the torch marker deselects these cases
    TinyNet = None  # type: ignore[assignment,misc]


def _net() -> Built:
    import torch

    torch.manual_seed(0)
    X, y = tensor()
    return Built(TinyNet().eval(), X, y, X[:5])


def _native(model, X):
    import torch

    with torch.no_grad():
        return as_numpy(model(torch.from_numpy(X)))


MLFLOW_SAVE = """
import torch, mlflow.pytorch, mlflow.pyfunc
from mlflow.models import infer_signature
torch.manual_seed(0)
class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = torch.nn.Linear(4, 8)
        self.l2 = torch.nn.Linear(8, 1)
    def forward(self, x):
        return self.l2(torch.relu(self.l1(x)))
net = Net().eval()
with torch.no_grad():
    native = tolist(net(torch.from_numpy(X)))
sig = infer_signature(X[:5], net(torch.from_numpy(X[:5])).detach().numpy())
for fmt in ("pt2", "pickle"):
    p = f"{root}/{fmt}"
    mlflow.pytorch.save_model(net, p, serialization_format=fmt, input_example=X[:5], signature=sig,
                              pip_requirements=[])
    out[fmt] = {"native": native, "pyfunc": tolist(mlflow.pyfunc.load_model(p).predict(X))}
"""

MLFLOW_LOAD = """
import torch, mlflow.pytorch, mlflow.pyfunc
m = mlflow.pytorch.load_model(path)
with torch.no_grad():
    out["native"] = tolist(m(torch.from_numpy(X)))
out["pyfunc"] = tolist(mlflow.pyfunc.load_model(path).predict(X))
"""

CASES = [
    FlavorCase(
        id="pytorch-pt2", module="tureen.flavors.pytorch", framework="torch", build=_net, section="pytorch",
        keys={"model_data", "pytorch_version", "code"}, loader_module="mlflow.pytorch", requirement="torch",
        mlflow_save=MLFLOW_SAVE, mlflow_load=MLFLOW_LOAD, pickle_kw={"serialization_format": "pickle"},
        native_predict=_native, bad_dtype=lambda X: X.astype("float64"), bad_shape=lambda X: X[:, :3],
        unsupported=(object(), "torch.nn.Module"), version_key="pytorch_version", data_file="data/model.pt2",
        rtol=1e-5, marks=[pytest.mark.torch]),
]
