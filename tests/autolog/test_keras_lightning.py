"""Keras 3 and PyTorch Lightning autologging (tiny models, a few epochs), on its own and beside MLflow 3.17's."""

from __future__ import annotations

import pytest

from autolog_support import artifacts, runs


@pytest.mark.tensorflow
def test_keras_fit_records_params_epochs_summary_and_model(binary):
    import keras
    import numpy as np

    import tureen
    import tureen.flavors.tensorflow

    X, y = binary
    X = X.astype("float32")
    tureen.flavors.tensorflow.autolog()
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(X, y, epochs=3, batch_size=32, verbose=0, validation_data=(X[:20], y[:20]))
    (run,) = runs()
    assert run.data.tags["mlflow.autologging"] == "tensorflow"
    params = run.data.params
    assert params["epochs"] == "3" and params["batch_size"] == "32"
    # mlflow.tensorflow.autolog's spelling of the optimizer config
    assert params["opt_name"] == "adam" and float(params["opt_learning_rate"]) == pytest.approx(0.01)
    assert not any(k.startswith("optimizer_") for k in params)
    assert "x" not in params and "verbose" not in params and "callbacks" not in params
    history = tureen.TrackingClient().get_metric_history(run.info.run_id, "loss")
    assert sorted(m.step for m in history) == [0, 1, 2]
    assert {"accuracy", "val_loss", "validation_loss"} <= set(run.data.metrics)
    assert "model_summary.txt" in artifacts(run.info.run_id)
    (out,) = run.outputs.model_outputs
    loaded = tureen.pyfunc.load_model(f"models:/{out.model_id}")
    assert loaded.metadata.signature is not None
    np.testing.assert_allclose(np.asarray(loaded.predict(X[:4])).ravel(), model.predict(X[:4], verbose=0).ravel(),
                               rtol=1e-5)


@pytest.mark.tensorflow
def test_keras_early_stopping_and_disable(binary):
    import keras

    import tureen
    import tureen.flavors.tensorflow

    X, y = binary
    fit = keras.Model.fit
    tureen.flavors.tensorflow.autolog(log_models=False)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")  # lr 0: no improvement, stops early
    stopper = keras.callbacks.EarlyStopping(monitor="loss", patience=1, restore_best_weights=True)
    model.fit(X.astype("float32"), y.astype("float32"), epochs=10, verbose=0, callbacks=[stopper],
              shuffle=False)  # shuffled batches sum the epoch loss in another order: a tiny "improvement"
    (run,) = runs()
    assert run.data.params["patience"] == "1" and run.data.params["monitor"] == "loss"
    assert run.data.metrics["stopped_epoch"] == stopper.stopped_epoch == 1
    assert run.data.metrics["restored_epoch"] == 0  # lr 0: epoch 0's loss is the best, its weights restored
    history = tureen.TrackingClient().get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in history] == [0, 1, 2]  # epochs 0 and 1, then epoch 0's logs again at step 1 + 1
    assert history[2].value == history[0].value
    tureen.flavors.tensorflow.autolog(disable=True)
    assert keras.Model.fit is fit and "fit" not in vars(keras.Model)


@pytest.mark.tensorflow
def test_keras_early_stopping_that_does_not_stop_logs_settings_only(binary):
    import keras

    import tureen.flavors.tensorflow

    X, y = binary
    tureen.flavors.tensorflow.autolog(log_models=False)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(X.astype("float32"), y.astype("float32"), epochs=2, verbose=0,
              callbacks=[keras.callbacks.EarlyStopping(monitor="loss", patience=5, restore_best_weights=True)])
    (run,) = runs()
    assert run.data.params["patience"] == "5"
    assert not {"stopped_epoch", "restored_epoch"} & set(run.data.metrics)


@pytest.mark.tensorflow
def test_keras_spelling_records_as_mlflow_keras_autolog(binary):
    import keras

    import tureen
    import tureen.flavors.keras

    X, y = binary
    X, y = X.astype("float32"), y.astype("float32")
    fit = keras.Model.fit
    tureen.flavors.keras.autolog(log_models=False)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.0, clipnorm=2.0), loss="mse")
    stopper = keras.callbacks.EarlyStopping(monitor="loss", patience=1, restore_best_weights=True)
    model.fit(X, y, 16, 10, 0, [stopper], shuffle=False)  # batch_size, epochs, verbose, callbacks by position
    (run,) = runs()
    params = run.data.params
    assert run.data.tags["mlflow.autologging"] == "keras"
    assert params["optimizer_clipnorm"] == "2.0" and params["optimizer_name"].startswith("sgd")  # sgd_<n> after one
    assert not any(k.startswith("opt_") for k in params)
    assert params["batch_size"] == "16" and params["epochs"] == "10"  # positional arguments as given
    assert stopper.stopped_epoch == 1  # it stopped, but this spelling does not look at EarlyStopping
    assert "patience" not in params and not {"stopped_epoch", "restored_epoch"} & set(run.data.metrics)
    tureen.flavors.keras.autolog(disable=True)
    assert keras.Model.fit is fit


@pytest.mark.tensorflow
def test_universal_autolog_records_keras_fits_once_in_the_tensorflow_spelling(binary):
    import keras

    import tureen
    import tureen.flavors.keras

    X, y = binary
    X, y = X.astype("float32"), y.astype("float32")

    def train() -> None:
        model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        model.fit(X, y, epochs=1, verbose=0)

    tureen.autolog(log_models=False)
    train()
    (run,) = runs()
    assert run.data.tags["mlflow.autologging"] == "tensorflow" and "opt_name" in run.data.params
    assert len(tureen.TrackingClient().get_metric_history(run.info.run_id, "loss")) == 1
    tureen.autolog(disable=True)
    tureen.autolog(log_models=False, exclude_flavors=["tensorflow"])  # then the Keras spelling records them
    train()
    assert [r.data.tags["mlflow.autologging"] for r in runs()] == ["keras", "tensorflow"]
    tureen.autolog(disable=True)
    tureen.flavors.keras.autolog(log_models=False)  # an explicit spelling wins over tureen.autolog()'s
    tureen.autolog(log_models=False)
    train()
    assert [r.data.tags["mlflow.autologging"] for r in runs()] == ["keras", "keras", "tensorflow"]
    assert "optimizer_name" in runs()[0].data.params


@pytest.mark.torch
def test_lightning_fit_records_params_metrics_and_model(binary):
    import lightning as L
    import numpy as np
    import torch

    import tureen
    import tureen.flavors.pytorch

    X, y = binary

    class Net(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(5, 1)

        def forward(self, x):
            return self.layer(x)

        def training_step(self, batch, _):
            x, t = batch
            loss = torch.nn.functional.mse_loss(self(x).squeeze(-1), t)
            self.log("train_loss", loss, on_epoch=True, on_step=False)
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.05)

    data = torch.utils.data.TensorDataset(torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.float32))
    loader = torch.utils.data.DataLoader(data, batch_size=40)
    fit = L.Trainer.fit
    tureen.flavors.pytorch.autolog()
    net = Net()
    trainer = L.Trainer(max_epochs=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False)
    trainer.fit(net, loader)
    (run,) = runs()
    assert run.data.tags["mlflow.autologging"] == "pytorch" and run.data.tags["Mode"] == "training"
    params = run.data.params
    assert params["epochs"] == "3" and params["optimizer_name"] == "SGD" and params["lr"] == "0.05"
    history = tureen.TrackingClient().get_metric_history(run.info.run_id, "train_loss")
    assert sorted(m.step for m in history) == [0, 1, 2]
    assert "model_summary.txt" in artifacts(run.info.run_id)
    (out,) = run.outputs.model_outputs
    loaded = tureen.pyfunc.load_model(f"models:/{out.model_id}")
    assert [s.shape for s in loaded.metadata.signature.inputs.inputs] == [(-1, 5)]
    with torch.no_grad():
        expected = net(torch.tensor(X[:3], dtype=torch.float32)).numpy()
    np.testing.assert_allclose(np.asarray(loaded.predict(X[:3].astype("float32"))), expected, rtol=1e-5)
    assert "forward" not in vars(net)  # the first-batch capture is gone
    tureen.flavors.pytorch.autolog(disable=True)
    assert L.Trainer.fit is fit


@pytest.mark.torch
def test_lightning_early_stopping_results_only_when_it_stopped(binary):
    import lightning as L
    import torch

    import tureen.flavors.pytorch

    X, y = binary

    class Net(L.LightningModule):
        def __init__(self, lr: float) -> None:
            super().__init__()
            self.lr = lr
            self.layer = torch.nn.Linear(5, 1)

        def training_step(self, batch, _):
            x, t = batch
            loss = torch.nn.functional.mse_loss(self.layer(x).squeeze(-1), t)
            self.log("train_loss", loss, on_epoch=True, on_step=False)
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.lr)

    data = torch.utils.data.TensorDataset(torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.float32))
    loader = torch.utils.data.DataLoader(data, batch_size=40)
    tureen.flavors.pytorch.autolog(log_models=False)
    for lr, patience in [(0.0, 2), (0.05, 50)]:  # lr 0: no improvement, stops at epoch 2; patience 50: never
        stopper = L.pytorch.callbacks.EarlyStopping(monitor="train_loss", patience=patience, min_delta=0.01)
        trainer = L.Trainer(max_epochs=5, callbacks=[stopper], logger=False, enable_checkpointing=False,
                            enable_progress_bar=False, enable_model_summary=False)
        trainer.fit(Net(lr), loader)
    not_stopped, stopped = runs()
    assert stopped.data.params["min_delta"] == "0.01"  # as given (Lightning keeps -0.01 in "min" mode)
    assert stopped.data.params["patience"] == "2" and stopped.data.params["stopped_epoch"] == "0"
    assert stopped.data.metrics["stopped_epoch"] == 2 and stopped.data.metrics["restored_epoch"] == 0
    assert stopped.data.metrics["wait_count"] == 2 and "best_score" in stopped.data.metrics
    assert not_stopped.data.params["patience"] == "50"
    assert not {"stopped_epoch", "restored_epoch", "wait_count", "best_score"} & set(not_stopped.data.metrics)


# ------------------------------------------------------------------------------------------------
# the same scripts autologged by MLflow 3.17 (peer venv) and by tureen (the import line changed): every param,
# metric (each step and value) and tag of each run, compared

_SUMMARY = r'''
def checkpoints(client, rid, path="checkpoints"):
    import json, pathlib, tempfile
    files = {}
    for f in client.list_artifacts(rid, path):
        if f.is_dir:
            files.update(checkpoints(client, rid, f.path))
        elif f.path.endswith(".json"):
            with tempfile.TemporaryDirectory() as tmp:
                files[f.path] = json.loads(pathlib.Path(client.download_artifacts(rid, f.path, tmp)).read_text())
        else:
            files[f.path] = None
    return files


def summaries():
    import json
    client = mlflow.MlflowClient()
    out = []
    for r in client.search_runs(["0"], order_by=["attributes.start_time ASC"]):
        rid = r.info.run_id
        out.append({"params": r.data.params, "checkpoints": checkpoints(client, rid),
                    "metrics": {k: [[m.step, m.value] for m in sorted(client.get_metric_history(rid, k),
                                                                       key=lambda m: (m.step, m.timestamp))]
                                for k in r.data.metrics},
                    "tags": {k: v for k, v in r.data.tags.items()
                             if k in ("mlflow.autologging", "mlflow.latest_checkpoint_artifact")
                             or not k.startswith(("mlflow.", "tureen."))},
                    "status": r.info.status})
    print(json.dumps(out))
'''

_KERAS_SCRIPT = r'''
import time
import keras
import mlflow
import numpy as np

rng = np.random.default_rng(0)
X = rng.normal(size=(64, 4)).astype("float32")
y = (X[:, 0] > 0).astype("float32")


def fit(optimizer, *args, **kwargs):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(X, y, *args, verbose=0, **kwargs)
    time.sleep(0.01)  # distinct start times order the runs


mlflow.tensorflow.autolog(log_models=False)
fit(keras.optimizers.Adam(0.01, clipnorm=1.0), epochs=2, batch_size=32, validation_data=(X[:16], y[:16]))
# lr 0: the loss never improves, the callback stops at epoch 1 and restores epoch 0's weights
fit(keras.optimizers.SGD(0.0), epochs=10, shuffle=False, callbacks=[
    keras.callbacks.EarlyStopping(monitor="loss", patience=1, restore_best_weights=True)])
fit("sgd", epochs=3, callbacks=[keras.callbacks.EarlyStopping(monitor="loss", patience=5)])  # does not stop
fit("sgd", 16, 2)  # batch_size and epochs by position
mlflow.tensorflow.autolog(disable=True)
mlflow.keras.autolog(log_models=False)
fit(keras.optimizers.Adam(0.01, clipnorm=1.0), epochs=2, batch_size=32, validation_data=(X[:16], y[:16]))
fit(keras.optimizers.SGD(0.0), epochs=10, shuffle=False, callbacks=[
    keras.callbacks.EarlyStopping(monitor="loss", patience=1, restore_best_weights=True)])
mlflow.keras.autolog(disable=True)
# every checkpoint, weights only, every 3 batches (2 epochs of 4)
mlflow.tensorflow.autolog(log_models=False, checkpoint_save_best_only=False, checkpoint_save_weights_only=True,
                          checkpoint_save_freq=3)
fit("sgd", epochs=2, batch_size=16)
'''

_LIGHTNING_SCRIPT = r'''
import time
import lightning as L
import mlflow
import pytorch_lightning as PL
import torch


def make_net(base, lr):
    class Net(base):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(4, 1)

        def forward(self, x):
            return self.layer(x)

        def training_step(self, batch, _):
            x, t = batch
            loss = torch.nn.functional.mse_loss(self(x).squeeze(-1), t)
            self.log("train_loss", loss, on_epoch=True, on_step=False)
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=lr)

    return Net()


torch.manual_seed(0)
X = torch.randn(64, 4)
data = torch.utils.data.TensorDataset(X, (X[:, 0] > 0).float())
loader = torch.utils.data.DataLoader(data, batch_size=32)


def fit(pkg, lr, callbacks=()):
    torch.manual_seed(0)
    base = pkg.LightningModule
    trainer = pkg.Trainer(max_epochs=4, callbacks=list(callbacks), logger=False, enable_checkpointing=False,
                          enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(make_net(base, lr), loader)
    time.sleep(0.01)


mlflow.pytorch.autolog(log_models=False)
fit(L, 0.1)
# lr 0: train_loss never improves, the callback stops the training at epoch 1
fit(PL, 0.0, [PL.callbacks.EarlyStopping(monitor="train_loss", patience=1, mode="min", min_delta=0.01)])
fit(PL, 0.1, [PL.callbacks.EarlyStopping(monitor="train_loss", patience=50, mode="max", min_delta=0.01)])
fit(L, 0.0, [L.pytorch.callbacks.EarlyStopping(monitor="train_loss", patience=1, mode="min", min_delta=0.01)])
# every checkpoint, every 3 global steps (4 epochs of 2); then the best by train_loss, weights only
mlflow.pytorch.autolog(log_models=False, checkpoint_save_best_only=False, checkpoint_save_freq=3)
fit(L, 0.1)
mlflow.pytorch.autolog(log_models=False, checkpoint_monitor="train_loss", checkpoint_save_weights_only=True)
fit(L, 0.1)
'''


def _run_script(source: str, workdir, *, ours: bool) -> list:
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    workdir.mkdir(parents=True, exist_ok=True)
    if ours:
        source = source.replace("\nimport mlflow\n", "\nimport tureen as mlflow\n", 1)
    script = workdir / "script.py"
    script.write_text(source + _SUMMARY + "\nsummaries()\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TUREEN_", "MLFLOW_", "PYTHONPATH"))}
    env.update(MLFLOW_TRACKING_URI=f"sqlite:///{workdir / 'mlruns.db'}", PYTHONWARNINGS="ignore",
               GIT_PYTHON_REFRESH="quiet", TF_CPP_MIN_LOG_LEVEL="3")
    if ours:
        env.update(PYTHONPATH=str(root), TUREEN_HOME=str(workdir / "home"))
    if ours:
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=workdir, env=env,
                              timeout=900)
        rc, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
    else:  # the peer's fork server runs it (MLflow and the framework imported already)
        import _mlflow_peer

        rc, stdout, stderr = _mlflow_peer.run_script(script, cwd=workdir, env=env, timeout=900)
    side = "tureen" if ours else "MLflow"
    assert rc == 0, f"{side} side failed:\n{stderr[-4000:]}"
    return json.loads([ln for ln in stdout.splitlines() if ln.strip()][-1])


def _both_sides(source: str, tmp_path, needs: tuple[str, ...]) -> tuple[list, list]:
    import subprocess

    import _mlflow_peer

    peer = str(_mlflow_peer.ensure())
    # one interpreter checks them all (each import of these frameworks takes seconds); on a miss, which one
    if subprocess.run([peer, "-c", "; ".join(f"import {m}" for m in needs)], capture_output=True).returncode:
        missing = [m for m in needs if subprocess.run([peer, "-c", f"import {m}"], capture_output=True).returncode]
        pytest.skip(f"the MLflow peer venv has no {', '.join(missing)} (tests/_mlflow_peer.py REQUIREMENTS lists "
                    f"it: rerun `make mlflow-peer`)")
    ours, theirs = _mlflow_peer.both_at_once(lambda: _run_script(source, tmp_path / "mlflow", ours=False),
                                             lambda: _run_script(source, tmp_path / "tureen", ours=True))
    assert len(ours) == len(theirs)
    return ours, theirs


def _assert_same_run(ours: dict, theirs: dict, what: str) -> None:
    assert ours["params"] == theirs["params"], what
    assert ours["tags"] == theirs["tags"], what
    assert ours["status"] == theirs["status"], what
    assert sorted(ours["checkpoints"]) == sorted(theirs["checkpoints"]), what  # the same files, by name
    for path, saved in theirs["checkpoints"].items():  # and the same metrics files
        if saved is not None:
            assert sorted(ours["checkpoints"][path]) == sorted(saved), (what, path)
            assert ours["checkpoints"][path] == pytest.approx(saved, rel=1e-5), (what, path)
    assert sorted(ours["metrics"]) == sorted(theirs["metrics"]), what
    for key, history in theirs["metrics"].items():
        assert [s for s, _ in ours["metrics"][key]] == [s for s, _ in history], (what, key)
        assert [v for _, v in ours["metrics"][key]] == pytest.approx([v for _, v in history], rel=1e-5), (what, key)


@pytest.mark.mlflow
@pytest.mark.tensorflow
def test_keras_runs_match_mlflow_tensorflow_and_keras_autolog(tmp_path):
    ours, theirs = _both_sides(_KERAS_SCRIPT, tmp_path, ("tensorboard",))
    tf_plain, tf_stopped, tf_not_stopped, tf_positional, k_plain, k_stopped, tf_steps = range(7)
    for i in (tf_plain, tf_stopped, tf_not_stopped, k_plain, k_stopped, tf_steps):
        _assert_same_run(ours[i], theirs[i], f"run {i}")
    # checkpoints: the best by val_loss (the only run with validation data), none where nothing is monitored,
    # and every 3 batches, weights only
    assert sorted(theirs[tf_plain]["checkpoints"]) == ["checkpoints/latest_checkpoint.h5",
                                                      "checkpoints/latest_checkpoint_metrics.json"]
    assert theirs[tf_plain]["tags"]["mlflow.latest_checkpoint_artifact"] == "checkpoints/latest_checkpoint.h5"
    assert not theirs[tf_stopped]["checkpoints"] and not theirs[k_plain]["checkpoints"]
    assert sorted(theirs[tf_steps]["checkpoints"]) == [
        f"checkpoints/global_step_{n}/{f}" for n in (3, 6) for f in ("checkpoint.weights.h5", "checkpoint_metrics.json")]
    assert theirs[tf_plain]["params"]["opt_clipnorm"] == "1.0"  # the facts the comparison rests on
    assert theirs[tf_plain]["tags"]["mlflow.autologging"] == "tensorflow"
    assert {"stopped_epoch", "restored_epoch"} <= set(theirs[tf_stopped]["metrics"])
    assert theirs[tf_stopped]["params"]["patience"] == "1"
    assert "patience" in theirs[tf_not_stopped]["params"] and "stopped_epoch" not in theirs[tf_not_stopped]["metrics"]
    assert theirs[k_plain]["params"]["optimizer_clipnorm"] == "1.0"
    assert theirs[k_plain]["tags"] == {"mlflow.autologging": "keras"}
    assert "patience" not in theirs[k_stopped]["params"] and "stopped_epoch" not in theirs[k_stopped]["metrics"]
    # positional arguments: mlflow.tensorflow.autolog records them, and so do both of tureen's spellings
    _assert_same_run(ours[tf_positional], theirs[tf_positional], "positional")
    assert ours[tf_positional]["params"]["epochs"] == "2" and ours[tf_positional]["params"]["batch_size"] == "16"


@pytest.mark.mlflow
@pytest.mark.tensorflow
def test_universal_autolog_and_keras_spelling_positional_arguments_beside_mlflow(tmp_path):
    """mlflow.autolog() records a Keras fit as mlflow.tensorflow.autolog does; mlflow.keras.autolog logs fit()'s
    defaults in place of positional arguments (a bug not copied). A fresh process: in MLflow, an explicit
    <flavor>.autolog(disable=True) keeps a later mlflow.autolog() from turning that flavor on."""
    source = _KERAS_SCRIPT.split("mlflow.tensorflow.autolog(log_models=False)")[0] + (
        'mlflow.autolog(log_models=False)\nfit("sgd", epochs=2, batch_size=32)\nmlflow.autolog(disable=True)\n'
        'mlflow.keras.autolog(log_models=False)\nfit("sgd", 16, 2)\n')
    (universal, ours), (their_universal, theirs) = _both_sides(source, tmp_path, ("tensorboard",))
    assert their_universal["tags"] == {"mlflow.autologging": "tensorflow"} and "opt_name" in their_universal["params"]
    _assert_same_run(universal, their_universal, "mlflow.autolog()")
    assert theirs["params"]["epochs"] == "1" and theirs["params"]["batch_size"] == "None"  # MLflow: the defaults
    assert ours["params"]["epochs"] == "2" and ours["params"]["batch_size"] == "16"  # what the fit used
    assert len(ours["metrics"]["loss"]) == len(theirs["metrics"]["loss"]) == 2
    ours["params"].update(epochs="1", batch_size="None")
    _assert_same_run(ours, theirs, "all else")


@pytest.mark.mlflow
@pytest.mark.torch
def test_lightning_runs_match_mlflow_pytorch_autolog(tmp_path):
    ours, theirs = _both_sides(_LIGHTNING_SCRIPT, tmp_path, ("lightning", "pytorch_lightning"))
    plain, stopped, not_stopped, lightning_stopped, steps, best = range(6)
    _assert_same_run(ours[plain], theirs[plain], "plain")
    assert not theirs[plain]["checkpoints"]  # no val_loss to monitor
    _assert_same_run(ours[steps], theirs[steps], "checkpoints every 3 steps")
    assert sorted(theirs[steps]["checkpoints"]) == [
        f"checkpoints/global_step_{n}/{f}" for n in (3, 6) for f in ("checkpoint.pth", "checkpoint_metrics.json")]
    _assert_same_run(ours[best], theirs[best], "best checkpoint by train_loss")
    assert sorted(theirs[best]["checkpoints"]) == ["checkpoints/latest_checkpoint.weights.pth",
                                                  "checkpoints/latest_checkpoint_metrics.json"]
    assert theirs[plain]["tags"] == {"mlflow.autologging": "pytorch", "Mode": "training"}
    # early stopping that stopped: the same runs but for min_delta, which MLflow records with Lightning's
    # internal sign (negated in "min" mode); tureen records the value given
    assert theirs[stopped]["params"]["min_delta"] == "-0.01" and ours[stopped]["params"]["min_delta"] == "0.01"
    ours_stopped_params = dict(ours[stopped]["params"])
    ours[stopped]["params"]["min_delta"] = "-0.01"
    _assert_same_run(ours[stopped], theirs[stopped], "stopped")
    assert {"stopped_epoch", "restored_epoch", "best_score", "wait_count"} <= set(theirs[stopped]["metrics"])
    # early stopping that did not stop: its settings, none of its results
    _assert_same_run(ours[not_stopped], theirs[not_stopped], "not stopped")
    assert "patience" in theirs[not_stopped]["params"]
    assert not {"stopped_epoch", "restored_epoch"} & set(theirs[not_stopped]["metrics"])
    # lightning.pytorch's EarlyStopping: MLflow only looks for pytorch_lightning's class and records nothing of
    # it; tureen records it as it records pytorch_lightning's
    assert "patience" not in theirs[lightning_stopped]["params"]
    assert "stopped_epoch" not in theirs[lightning_stopped]["metrics"]
    assert ours[lightning_stopped]["params"] == ours_stopped_params
    assert sorted(ours[lightning_stopped]["metrics"]) == sorted(ours[stopped]["metrics"])
