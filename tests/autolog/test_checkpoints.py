"""Checkpoints logged while a model trains, read back: ``load_checkpoint`` and ``MlflowModelCheckpointCallback``
of ``tureen.pytorch`` (Lightning) and ``tureen.tensorflow`` (Keras), as MLflow 3.17 has them.

What is checked: the latest checkpoint, one of an epoch or a step, of the active, the last or a given run; the
user's own callback taking the place of autologging's; only rank zero of a distributed fit writing; hostile
artifacts (a checkpoint that runs code when unpickled, a Keras config with bytecode, a run tag or arguments
that point outside ``checkpoints/``) refused unless the caller allows the load; and, beside MLflow in the peer
venv, checkpoints of either side loading on the other with the same results.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autolog_support import runs

ROOT = Path(__file__).resolve().parents[2]


def _files(run_id: str, path: str = "checkpoints") -> list[str]:
    import tureen

    client = tureen.TrackingClient()
    out: list[str] = []
    for f in client.list_artifacts(run_id, path):
        out += _files(run_id, f.path) if f.is_dir else [f.path]
    return sorted(out)


# ------------------------------------------------------------------------------------------------
# Lightning


#: the small Lightning model of these tests, as source: the MLflow side (a script in the peer venv) defines
#: the same class from it
_NET_SOURCE = """
class Net(L.LightningModule):
    def __init__(self, hidden=3, lr=0.1):
        super().__init__()
        self.save_hyperparameters()
        self.layer = torch.nn.Sequential(torch.nn.Linear(4, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, 1))

    def forward(self, x):
        return self.layer(x)

    def training_step(self, batch, _):
        loss = torch.nn.functional.mse_loss(self(batch[0]).squeeze(-1), batch[1])
        self.log("train_loss", loss, on_epoch=True, on_step=False)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)
"""


def _lightning_net():
    import lightning as L
    import torch

    namespace = {"L": L, "torch": torch, "__name__": __name__}
    exec(_NET_SOURCE, namespace)  # noqa: S102 - this file's own source
    return namespace["Net"]


def _loader():
    import torch

    g = torch.Generator().manual_seed(0)
    X = torch.randn(32, 4, generator=g)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, X[:, 0]), batch_size=16)


def _trainer(epochs: int = 2, callbacks=()):
    import lightning as L

    return L.Trainer(max_epochs=epochs, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                     enable_model_summary=False, callbacks=list(callbacks))


def _out(model, x):
    import torch

    model.eval()
    with torch.no_grad():
        return model(x).numpy()


@pytest.mark.torch
def test_lightning_load_checkpoint_latest_epoch_and_step_of_active_last_or_given_run():
    import numpy as np
    import torch

    import tureen

    Net = _lightning_net()
    x = torch.randn(5, 4)
    tureen.pytorch.autolog(log_models=False, checkpoint_save_best_only=False)
    torch.manual_seed(0)
    net = Net(hidden=5)
    _trainer(2).fit(net, _loader())
    (run,) = runs()
    assert _files(run.info.run_id) == [f"checkpoints/epoch_{e}/{f}" for e in (0, 1)
                                       for f in ("checkpoint.pth", "checkpoint_metrics.json")]
    # no run active (autologging ended its run): the last run this process started
    latest = tureen.pytorch.load_checkpoint(Net)
    assert isinstance(latest, Net) and latest.hparams.hidden == 5  # rebuilt with its hyperparameters
    np.testing.assert_allclose(_out(latest, x), _out(net, x), rtol=1e-6)
    first = tureen.pytorch.load_checkpoint(Net, run.info.run_id, epoch=0)
    assert not np.allclose(_out(first, x), _out(net, x))  # one epoch less of training
    again = tureen.pytorch.load_checkpoint(Net, run.info.run_id, "0")  # MLflow formats what it is given
    np.testing.assert_allclose(_out(again, x), _out(first, x))
    overridden = tureen.pytorch.load_checkpoint(Net, run.info.run_id, kwargs={"lr": 0.5})
    assert overridden.hparams.lr == 0.5 and overridden.hparams.hidden == 5
    with tureen.start_run(run_id=run.info.run_id):  # the active run
        np.testing.assert_allclose(_out(tureen.pytorch.load_checkpoint(Net, epoch=1), x), _out(net, x), rtol=1e-6)

    # every 2 steps (2 steps an epoch): global_step_2, global_step_4
    tureen.pytorch.autolog(log_models=False, checkpoint_save_best_only=False, checkpoint_save_freq=2,
                           checkpoint_save_weights_only=True)
    torch.manual_seed(0)
    net = Net()
    _trainer(2).fit(net, _loader())
    steps = runs()[0]
    assert _files(steps.info.run_id) == [f"checkpoints/global_step_{s}/{f}" for s in (2, 4)
                                         for f in ("checkpoint.weights.pth", "checkpoint_metrics.json")]
    np.testing.assert_allclose(_out(tureen.pytorch.load_checkpoint(Net, global_step=4), x), _out(net, x), rtol=1e-6)
    from tureen.exceptions import InvalidParameterError, ResourceNotFoundError

    with pytest.raises(ResourceNotFoundError, match="global_step_3"):
        tureen.pytorch.load_checkpoint(Net, global_step=3)
    with pytest.raises(InvalidParameterError, match="not both"):
        tureen.pytorch.load_checkpoint(Net, epoch=1, global_step=2)
    with pytest.raises(InvalidParameterError, match="LightningModule"):
        tureen.pytorch.load_checkpoint(Net(), steps.info.run_id)


@pytest.mark.torch
def test_lightning_user_callback_replaces_autologgings_and_works_without_autolog():
    import torch

    import tureen

    MlflowModelCheckpointCallback = tureen.pytorch.MlflowModelCheckpointCallback

    Net = _lightning_net()
    tureen.pytorch.autolog(log_models=False)  # checkpoint=True: best by val_loss, which this fit never logs
    mine = MlflowModelCheckpointCallback(monitor="train_loss", save_best_only=False, save_freq=1)
    trainer = _trainer(1, [mine])
    trainer.fit(Net(), _loader())
    (run,) = runs()
    # the user's settings, one callback: no latest_checkpoint files (autologging's would have written none
    # either, but would have added a second checkpoint callback)
    assert _files(run.info.run_id) == [f"checkpoints/global_step_{s}/{f}" for s in (1, 2)
                                       for f in ("checkpoint.pth", "checkpoint_metrics.json")]
    assert sum(isinstance(c, MlflowModelCheckpointCallback) for c in trainer.callbacks) == 1
    assert run.data.tags["mlflow.latest_checkpoint_artifact"] == "checkpoints/global_step_2/checkpoint.pth"
    assert "train_loss" in run.data.metrics  # autologging's own logging is still there

    # a trainer fitted again gets a fresh autologging callback, not the one of the last run
    tureen.pytorch.autolog(log_models=False, checkpoint_monitor="train_loss")
    trainer = _trainer(1)
    trainer.fit(Net(), _loader())
    trainer.fit_loop.max_epochs = 2
    trainer.fit(trainer.lightning_module, _loader())
    second, first = runs()[:2]
    assert _files(first.info.run_id) == _files(second.info.run_id) == [
        "checkpoints/latest_checkpoint.pth", "checkpoints/latest_checkpoint_metrics.json"]
    assert sum(isinstance(c, MlflowModelCheckpointCallback) for c in trainer.callbacks) == 1

    # no autologging: the callback logs to the active run
    tureen.pytorch.autolog(disable=True)
    with tureen.start_run() as active:
        torch.manual_seed(0)
        net = Net()
        _trainer(2, [MlflowModelCheckpointCallback(monitor="train_loss", mode="max")]).fit(net, _loader())
    metrics = json.loads(Path(tureen.TrackingClient().download_artifacts(
        active.info.run_id, "checkpoints/latest_checkpoint_metrics.json")).read_text())
    assert metrics["epoch"] == 0  # mode max: the first epoch's (higher) loss stays the best
    assert set(metrics) == {"train_loss", "epoch", "global_step"}


@pytest.mark.torch
@pytest.mark.parametrize("kwargs", [{"mode": "sideways"}, {"save_freq": 0}, {"monitor": None}])
def test_lightning_callback_refuses_values_mlflow_would_not_act_on(kwargs):
    import tureen
    from tureen.exceptions import InvalidParameterError

    with pytest.raises(InvalidParameterError):
        tureen.pytorch.MlflowModelCheckpointCallback(**kwargs)


_DDP_SCRIPT = r'''
import sys, warnings
warnings.filterwarnings("ignore")
import lightning as L
import torch
import tureen as mlflow

sys.path.insert(0, sys.argv[1])
from test_checkpoints import _lightning_net, _loader

mlflow.pytorch.autolog(log_models=False, checkpoint_monitor="train_loss")
Net = _lightning_net()
trainer = L.Trainer(max_epochs=2, accelerator="cpu", devices=2, strategy="ddp", logger=False,
                    enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
torch.manual_seed(0)
trainer.fit(Net(), _loader())
print("rank", trainer.global_rank, mlflow.last_active_run().info.run_id)
'''


@pytest.mark.torch
@pytest.mark.slow
def test_lightning_ddp_only_rank_zero_logs_and_checkpoints(tmp_path):
    """Two CPU processes (gloo), Lightning's own launcher: each rank's fit is autologged, and only the rank
    zero process writes params, metrics and checkpoints (MLflow's callbacks run on rank zero only)."""
    import tureen

    script = tmp_path / "ddp.py"
    script.write_text(_DDP_SCRIPT)
    db = tmp_path / "ddp.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TUREEN_", "MLFLOW_"))}
    env.update(PYTHONPATH=str(ROOT), TUREEN_TRACKING_URI=f"sqlite:///{db}", TUREEN_HOME=str(tmp_path / "home"),
               TUREEN_ARTIFACT_ROOT=str(tmp_path / "artifacts"), PYTHONWARNINGS="ignore", MASTER_ADDR="127.0.0.1")
    proc = subprocess.run([sys.executable, str(script), str(Path(__file__).parent)], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    ranks = dict(line.split()[1:] for line in proc.stdout.splitlines() if line.startswith("rank "))
    assert set(ranks) == {"0", "1"}
    tureen.set_tracking_uri(f"sqlite:///{db}")
    client = tureen.TrackingClient()
    zero, one = client.get_run(ranks["0"]), client.get_run(ranks["1"])
    assert _files(zero.info.run_id) == ["checkpoints/latest_checkpoint.pth",
                                        "checkpoints/latest_checkpoint_metrics.json"]
    assert "train_loss" in zero.data.metrics and zero.data.params["epochs"] == "2"
    if one.info.run_id != zero.info.run_id:  # each process autologs its own run; rank one's stays empty
        assert not _files(one.info.run_id) and not one.data.metrics and not one.data.params
        assert "mlflow.latest_checkpoint_artifact" not in one.data.tags
    Net = _lightning_net()
    assert isinstance(tureen.pytorch.load_checkpoint(Net, zero.info.run_id), Net)


# ------------------------------------------------------------------------------------------------
# hostile checkpoints and arguments

class _RunsCode:
    """Unpickling this runs ``Path(marker).touch()``: what a crafted checkpoint does to whoever loads it."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def _log_hostile_lightning_checkpoint(tmp_path: Path, marker: Path) -> str:
    import torch

    import tureen

    Net = _lightning_net()
    net = Net()
    payload = {"state_dict": net.state_dict(), "pytorch-lightning_version": "2.6.6", "epoch": 0, "global_step": 1,
               "hyper_parameters": {"hidden": 3, "lr": 0.1}, "loops": {}, "callbacks": {"x": _RunsCode(str(marker))}}
    file = tmp_path / "latest_checkpoint.pth"
    torch.save(payload, file)
    assert zipfile.is_zipfile(file) and b"touch" in zipfile.ZipFile(file).read("latest_checkpoint/data.pkl")
    with tureen.start_run() as run:
        tureen.log_artifact(str(file), "checkpoints")
        tureen.set_tag("mlflow.latest_checkpoint_artifact", "checkpoints/latest_checkpoint.pth")
    return run.info.run_id


@pytest.mark.torch
def test_lightning_checkpoint_that_runs_code_on_unpickling_needs_the_callers_permission(tmp_path, monkeypatch):
    import tureen
    from tureen.exceptions import UnsafeDeserializationError

    marker = tmp_path / "ran"
    run_id = _log_hostile_lightning_checkpoint(tmp_path, marker)
    Net = _lightning_net()
    with pytest.raises(UnsafeDeserializationError, match="latest_checkpoint.pth"):
        tureen.pytorch.load_checkpoint(Net, run_id, allow_pickle=False)
    # asking Lightning for a full unpickle through kwargs is still the gate's decision
    with pytest.raises(UnsafeDeserializationError):
        tureen.pytorch.load_checkpoint(Net, run_id, kwargs={"weights_only": False}, allow_pickle=False)
    monkeypatch.setenv("TUREEN_ALLOW_PICKLE", "false")
    with pytest.raises(UnsafeDeserializationError):
        tureen.pytorch.load_checkpoint(Net, run_id)
    assert not marker.exists()  # refused before a byte was unpickled
    # the caller allows it: it loads, and the crafted object's code ran (which is why it needed allowing)
    model = tureen.pytorch.load_checkpoint(Net, run_id, allow_pickle=True)
    assert isinstance(model, Net) and marker.exists()


@pytest.mark.torch
@pytest.mark.parametrize("tag", ["checkpoints/../../../outside.pth", "../outside.pth", "/etc/passwd",
                                 "checkpoints/epoch_0/../../x.pth", "checkpoints/model.pkl",
                                 "checkpoints/latest_checkpoint.h5", "checkpoints/epoch_x/checkpoint.pth"])
def test_a_checkpoint_tag_naming_anything_else_is_refused_before_a_download(tmp_path, tag):
    import tureen
    from tureen.exceptions import ModelFormatError

    secret = tmp_path / "outside.pth"
    secret.write_bytes(b"not for the loader")
    with tureen.start_run() as run:
        tureen.log_text("x", "checkpoints/latest_checkpoint.pth")
        tureen.set_tag("mlflow.latest_checkpoint_artifact", tag)
    with pytest.raises(ModelFormatError, match="refused"):
        tureen.pytorch.load_checkpoint(_lightning_net(), run.info.run_id)


@pytest.mark.torch
@pytest.mark.parametrize("where", [{"epoch": "../../x"}, {"epoch": "0/../../.."}, {"global_step": -1},
                                   {"epoch": True}, {"epoch": 1.0}, {"global_step": "1e3"}, {"epoch": "٣"}])
def test_epoch_and_step_arguments_are_numbers_only(where):
    import tureen
    from tureen.exceptions import InvalidParameterError

    with tureen.start_run() as run:
        tureen.log_text("x", "checkpoints/epoch_0/checkpoint.pth")
        tureen.set_tag("mlflow.latest_checkpoint_artifact", "checkpoints/epoch_0/checkpoint.pth")
    with pytest.raises(InvalidParameterError, match="non-negative integer"):
        tureen.pytorch.load_checkpoint(_lightning_net(), run.info.run_id, **where)


@pytest.mark.torch
def test_no_checkpoint_no_run_or_not_a_torch_file_are_typed_errors(monkeypatch):
    import tureen
    from tureen.exceptions import InvalidParameterError, ModelFormatError, ResourceNotFoundError
    from tureen.tracking import fluent

    Net = _lightning_net()
    monkeypatch.setattr(fluent, "_last_active_run_id", None)
    with pytest.raises(InvalidParameterError, match="run_id"):
        tureen.pytorch.load_checkpoint(Net)
    with tureen.start_run() as run:
        tureen.log_text("x", "checkpoints/other.txt")
    with pytest.raises(ResourceNotFoundError, match="no checkpoint"):
        tureen.pytorch.load_checkpoint(Net, run.info.run_id)
    with tureen.start_run() as run:
        tureen.log_text("plain text, not a torch file", "checkpoints/latest_checkpoint.pth")
        tureen.set_tag("mlflow.latest_checkpoint_artifact", "checkpoints/latest_checkpoint.pth")
    with pytest.raises(ModelFormatError, match="not a torch checkpoint"):
        tureen.pytorch.load_checkpoint(Net, run.info.run_id, allow_pickle=True)


# ------------------------------------------------------------------------------------------------
# Keras


def _keras_model(seed: int = 0, lam: str | None = None):
    import keras

    keras.utils.set_random_seed(seed)
    layers = [keras.Input((4,)), keras.layers.Dense(3, activation="tanh")]
    if lam is not None:
        layers.append(keras.layers.Lambda(eval(lam)))  # noqa: S307 - the test's own bytecode
    layers.append(keras.layers.Dense(1, activation="sigmoid"))
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.SGD(0.1, name="ckpt_sgd"), loss="binary_crossentropy")
    return model


def _keras_data():
    import numpy as np

    X = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    return X, (X[:, 0] > 0).astype("float32")


@pytest.mark.tensorflow
def test_keras_load_checkpoint_full_and_weights_only_user_callback_once(tmp_path):
    import keras
    import numpy as np

    import tureen
    from tureen.exceptions import InvalidParameterError

    MlflowModelCheckpointCallback = tureen.tensorflow.MlflowModelCheckpointCallback

    X, y = _keras_data()
    tureen.tensorflow.autolog(log_models=False, checkpoint_save_best_only=False)
    model = _keras_model()
    model.fit(X, y, epochs=2, batch_size=16, verbose=0)
    full = runs()[0]
    assert _files(full.info.run_id) == [f"checkpoints/epoch_{e}/{f}" for e in (0, 1)
                                        for f in ("checkpoint.h5", "checkpoint_metrics.json")]
    latest = tureen.tensorflow.load_checkpoint()
    np.testing.assert_allclose(latest.predict(X, verbose=0), model.predict(X, verbose=0), rtol=1e-6)
    first = tureen.tensorflow.load_checkpoint(run_id=full.info.run_id, epoch=0)
    assert not np.allclose(first.predict(X, verbose=0), model.predict(X, verbose=0))

    # the user's callback (weights only, every 2 batches) in place of autologging's
    cb = MlflowModelCheckpointCallback(monitor="loss", save_best_only=False, save_weights_only=True, save_freq=2)
    model = _keras_model()
    model.fit(X, y, epochs=2, batch_size=16, verbose=0, callbacks=[cb])
    weights = runs()[0]
    assert _files(weights.info.run_id) == [f"checkpoints/global_step_{s}/{f}" for s in (2, 4)
                                           for f in ("checkpoint.weights.h5", "checkpoint_metrics.json")]
    with pytest.raises(InvalidParameterError, match="weights only"):
        tureen.tensorflow.load_checkpoint(run_id=weights.info.run_id)
    fresh = _keras_model(seed=1)
    loaded = tureen.tensorflow.load_checkpoint(fresh, weights.info.run_id, global_step=4)
    assert loaded is fresh
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0), rtol=1e-6)

    # Keras' own ModelCheckpoint is not the user's MlflowModelCheckpointCallback: autologging still adds its
    # own (MLflow looks for its class only)
    tureen.tensorflow.autolog(log_models=False, checkpoint_monitor="loss")
    keras_own = keras.callbacks.ModelCheckpoint(str(tmp_path / "own.keras"))
    _keras_model().fit(X, y, epochs=1, batch_size=16, verbose=0, callbacks=[keras_own])
    assert (tmp_path / "own.keras").is_file()
    assert _files(runs()[0].info.run_id) == ["checkpoints/latest_checkpoint.h5",
                                             "checkpoints/latest_checkpoint_metrics.json"]

    # no autologging: the active run
    tureen.tensorflow.autolog(disable=True)
    with tureen.start_run() as run:
        _keras_model().fit(X, y, epochs=1, verbose=0, callbacks=[MlflowModelCheckpointCallback(monitor="loss")])
    assert _files(run.info.run_id) == ["checkpoints/latest_checkpoint.h5", "checkpoints/latest_checkpoint_metrics.json"]


@pytest.mark.tensorflow
def test_keras_checkpoint_with_bytecode_needs_the_callers_permission(tmp_path):
    import numpy as np

    import tureen
    from tureen.exceptions import ModelFormatError, UnsafeDeserializationError

    X, y = _keras_data()
    marker = tmp_path / "ran"
    lam = f"lambda x: x + 0.0 * float(__import__('pathlib').Path({str(marker)!r}).touch() is None)"
    model = _keras_model(lam=lam)
    marker.unlink(missing_ok=True)
    with tureen.start_run() as run:
        model.fit(X, y, epochs=1, verbose=0, callbacks=[tureen.tensorflow.MlflowModelCheckpointCallback(
            monitor="loss")])
    marker.unlink(missing_ok=True)  # the training ran it: the user's own code
    with pytest.raises(UnsafeDeserializationError, match="Lambda"):
        tureen.tensorflow.load_checkpoint(run_id=run.info.run_id, allow_pickle=False)
    assert not marker.exists()
    loaded = tureen.tensorflow.load_checkpoint(run_id=run.info.run_id, allow_pickle=True)
    assert marker.exists()  # allowed: the config's bytecode ran
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0), rtol=1e-6)

    # a pickle where the .h5 should be: not loaded at all
    marker.unlink()
    with tureen.start_run() as bad:
        file = tmp_path / "latest_checkpoint.h5"
        file.write_bytes(pickle.dumps(_RunsCode(str(marker))))
        tureen.log_artifact(str(file), "checkpoints")
        tureen.set_tag("mlflow.latest_checkpoint_artifact", "checkpoints/latest_checkpoint.h5")
    with pytest.raises(ModelFormatError, match="HDF5"):
        tureen.tensorflow.load_checkpoint(run_id=bad.info.run_id, allow_pickle=True)
    assert not marker.exists()


# ------------------------------------------------------------------------------------------------
# beside MLflow 3.17 (the peer venv): the same names and parameters; each side loads the other's checkpoints

#: one module per peer run: each then runs in the fork server that has its framework imported already
_SIGNATURES = r'''
import inspect, json, warnings
warnings.filterwarnings("ignore")
import mlflow.MODULE
m = mlflow.MODULE
out = {}
for name, fn in (("load_checkpoint", m.load_checkpoint),
                 ("MlflowModelCheckpointCallback", m.MlflowModelCheckpointCallback.__init__)):
    out[name] = [[p.name, p.kind.name, None if p.default is p.empty else repr(p.default)]
                 for p in inspect.signature(fn).parameters.values()]
print(json.dumps(out))
'''


@pytest.mark.mlflow
@pytest.mark.parametrize("module", [pytest.param("pytorch", marks=pytest.mark.torch),
                                    pytest.param("tensorflow", marks=pytest.mark.tensorflow)])
def test_names_and_parameters_are_mlflows(module):
    import inspect

    import _mlflow_peer

    import tureen

    theirs = _mlflow_peer.run(_SIGNATURES.replace("MODULE", module))
    assert sorted(theirs) == ["MlflowModelCheckpointCallback", "load_checkpoint"]
    for name, params in theirs.items():
        obj = getattr(getattr(tureen, module), name)
        fn = obj.__init__ if isinstance(obj, type) else obj
        ours = [[p.name, p.kind.name, None if p.default is p.empty else repr(p.default)]
                for p in inspect.signature(fn).parameters.values()]
        if name == "load_checkpoint":  # tureen's gate switch comes after all of MLflow's, keyword-only
            assert ours[-1] == ["allow_pickle", "KEYWORD_ONLY", "None"], name
            ours = ours[:-1]
        assert ours == params, (module, name)


_PEER_LIGHTNING = r'''
import json, sys, warnings
warnings.filterwarnings("ignore")
import lightning as L
import mlflow
import torch

own_uri, tureen_uri, tureen_run = sys.argv[1:4]

''' + _NET_SOURCE + r'''

def out(model):
    model.eval()
    with torch.no_grad():
        return model(torch.linspace(-1, 1, 20).reshape(5, 4)).numpy().ravel().tolist()


g = torch.Generator().manual_seed(0)
X = torch.randn(32, 4, generator=g)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, X[:, 0]), batch_size=16)
mlflow.set_tracking_uri(own_uri)
mlflow.pytorch.autolog(log_models=False, checkpoint_save_best_only=False)
with mlflow.start_run() as run:
    torch.manual_seed(0)
    net = Net(hidden=5)
    L.Trainer(max_epochs=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False).fit(net, loader)
    result = {"run_id": run.info.run_id, "trained": out(net),
              "latest": out(mlflow.pytorch.load_checkpoint(Net, run.info.run_id)),
              "epoch0": out(mlflow.pytorch.load_checkpoint(Net, run.info.run_id, epoch=0))}
mlflow.set_tracking_uri(tureen_uri)
theirs = mlflow.pytorch.load_checkpoint(Net, tureen_run)
result["tureen_latest"] = out(theirs)
result["tureen_hparams"] = dict(theirs.hparams)
result["tureen_epoch0"] = out(mlflow.pytorch.load_checkpoint(Net, tureen_run, epoch=0))
print(json.dumps(result))
'''


@pytest.mark.mlflow
@pytest.mark.torch
def test_lightning_checkpoints_load_across_mlflow_and_tureen(tmp_path):
    import numpy as np
    import torch

    import _mlflow_peer
    import tureen

    Net = _lightning_net()
    x = torch.linspace(-1, 1, 20).reshape(5, 4)
    tureen.pytorch.autolog(log_models=False, checkpoint_save_best_only=False)
    torch.manual_seed(0)
    net = Net(hidden=7)
    _trainer(2).fit(net, _loader())
    ours = runs()[0].info.run_id
    tureen_uri = tureen.get_tracking_uri()
    mlflow_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    work = tmp_path / "peer"
    work.mkdir()
    script = work / "peer.py"
    script.write_text(_PEER_LIGHTNING)
    rc, out, err = _mlflow_peer.run_script(script, mlflow_uri, tureen_uri, ours, cwd=work, timeout=600)
    assert rc == 0, err[-4000:]
    theirs = json.loads(out.strip().splitlines()[-1])
    # MLflow loads tureen's checkpoints: the trained model, with its hyperparameters, and epoch 0's
    np.testing.assert_allclose(np.ravel(_out(net, x)), theirs["tureen_latest"], rtol=1e-6)
    assert theirs["tureen_hparams"] == {"hidden": 7, "lr": 0.1}
    mine0 = tureen.pytorch.load_checkpoint(Net, ours, epoch=0)
    np.testing.assert_allclose(np.ravel(_out(mine0, x)), theirs["tureen_epoch0"], rtol=1e-6)
    # tureen loads MLflow's: the same outputs as MLflow's own load_checkpoint gave
    tureen.set_tracking_uri(mlflow_uri)
    run = tureen.TrackingClient().get_run(theirs["run_id"])
    assert run.data.tags["mlflow.latest_checkpoint_artifact"] == "checkpoints/epoch_1/checkpoint.pth"
    latest = tureen.pytorch.load_checkpoint(Net, theirs["run_id"], allow_pickle=False)  # no unpickling needed
    assert latest.hparams.hidden == 5
    np.testing.assert_allclose(np.ravel(_out(latest, x)), theirs["latest"], rtol=1e-6)
    np.testing.assert_allclose(theirs["latest"], theirs["trained"], rtol=1e-6)
    first = tureen.pytorch.load_checkpoint(Net, theirs["run_id"], epoch=0, allow_pickle=False)
    np.testing.assert_allclose(np.ravel(_out(first, x)), theirs["epoch0"], rtol=1e-6)


_PEER_KERAS = r'''
import json, sys, warnings
warnings.filterwarnings("ignore")
import keras
import mlflow
import numpy as np

own_uri, tureen_uri, tureen_full, tureen_weights = sys.argv[1:5]
X = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
y = (X[:, 0] > 0).astype("float32")
probe = np.linspace(-1, 1, 20, dtype="float32").reshape(5, 4)


def make(seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="tanh"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy")
    return model


def out(model):
    return model.predict(probe, verbose=0).ravel().tolist()


mlflow.set_tracking_uri(own_uri)
mlflow.tensorflow.autolog(log_models=False, checkpoint_save_best_only=False)
result = {}
with mlflow.start_run() as run:
    model = make()
    model.fit(X, y, epochs=2, batch_size=16, verbose=0)
    result.update(full=run.info.run_id, trained=out(model),
                  latest=out(mlflow.tensorflow.load_checkpoint(run_id=run.info.run_id)),
                  epoch0=out(mlflow.tensorflow.load_checkpoint(run_id=run.info.run_id, epoch=0)))
mlflow.tensorflow.autolog(log_models=False, checkpoint_save_best_only=False, checkpoint_save_weights_only=True,
                          checkpoint_save_freq=2)
with mlflow.start_run() as run:
    model = make()
    model.fit(X, y, epochs=2, batch_size=16, verbose=0)
    result.update(weights=run.info.run_id, weights_trained=out(model))
mlflow.set_tracking_uri(tureen_uri)
result["tureen_full"] = out(mlflow.tensorflow.load_checkpoint(run_id=tureen_full))
result["tureen_step2"] = out(mlflow.tensorflow.load_checkpoint(make(1), tureen_weights, global_step=2))
print(json.dumps(result))
'''


@pytest.mark.mlflow
@pytest.mark.tensorflow
def test_keras_checkpoints_load_across_mlflow_and_tureen(tmp_path):
    import keras
    import numpy as np

    import _mlflow_peer
    import tureen

    X, y = _keras_data()
    probe = np.linspace(-1, 1, 20, dtype="float32").reshape(5, 4)

    def make(seed: int = 0):
        keras.utils.set_random_seed(seed)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="tanh"),
                                  keras.layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer=keras.optimizers.SGD(0.1, name="ckpt_sgd"), loss="binary_crossentropy")
        return model

    tureen.tensorflow.autolog(log_models=False, checkpoint_save_best_only=False)
    full_model = make()
    full_model.fit(X, y, epochs=2, batch_size=16, verbose=0)
    tureen.tensorflow.autolog(log_models=False, checkpoint_save_best_only=False, checkpoint_save_weights_only=True,
                              checkpoint_save_freq=2)
    make().fit(X, y, epochs=2, batch_size=16, verbose=0)
    weights_run, full_run = (r.info.run_id for r in runs()[:2])
    mine_step2 = tureen.tensorflow.load_checkpoint(make(1), weights_run, global_step=2)
    tureen_uri = tureen.get_tracking_uri()
    mlflow_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    work = tmp_path / "peer"
    work.mkdir()
    script = work / "peer.py"
    script.write_text(_PEER_KERAS)
    rc, out, err = _mlflow_peer.run_script(script, mlflow_uri, tureen_uri, full_run, weights_run, cwd=work,
                                           timeout=600)
    assert rc == 0, err[-4000:]
    theirs = json.loads(out.strip().splitlines()[-1])
    np.testing.assert_allclose(theirs["tureen_full"], full_model.predict(probe, verbose=0).ravel(), rtol=1e-6)
    np.testing.assert_allclose(theirs["tureen_step2"], mine_step2.predict(probe, verbose=0).ravel(), rtol=1e-6)
    tureen.set_tracking_uri(mlflow_uri)
    latest = tureen.tensorflow.load_checkpoint(run_id=theirs["full"], allow_pickle=False)
    np.testing.assert_allclose(latest.predict(probe, verbose=0).ravel(), theirs["latest"], rtol=1e-6)
    np.testing.assert_allclose(theirs["latest"], theirs["trained"], rtol=1e-6)
    first = tureen.tensorflow.load_checkpoint(run_id=theirs["full"], epoch=0, allow_pickle=False)
    np.testing.assert_allclose(first.predict(probe, verbose=0).ravel(), theirs["epoch0"], rtol=1e-6)
    weights = tureen.tensorflow.load_checkpoint(make(1), theirs["weights"])  # the latest: global step 4
    np.testing.assert_allclose(weights.predict(probe, verbose=0).ravel(), theirs["weights_trained"], rtol=1e-6)
