"""The MLflow autolog parameters beyond the common ones, honoured: Keras/Lightning checkpoints (every layout the
``checkpoint*`` parameters give), the Keras save options, and bad values refused by name. Tiny models, a few
epochs. (The same checkpoints beside MLflow's: tests/autolog/test_keras_lightning.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autolog_support import runs


def _files(run_id: str, path: str = "") -> list[str]:
    import tureen

    client = tureen.TrackingClient()
    out: list[str] = []
    for f in client.list_artifacts(run_id, path or None):
        out += _files(run_id, f.path) if f.is_dir else [f.path]
    return sorted(out)


def _download(run_id: str, path: str, tmp_path: Path) -> Path:
    import tureen

    return Path(tureen.TrackingClient().download_artifacts(run_id, path, str(tmp_path)))


def _keras_data():
    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 4)).astype("float32")
    return X, (X[:, 0] > 0).astype("float32")


def _keras_fit(epochs: int, **kwargs):
    import keras

    X, y = _keras_data()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    # named: an unnamed Adam would make later ones in this process "adam_<n>" (other tests read that name)
    model.compile(optimizer=keras.optimizers.Adam(0.05, name="tiny_adam"), loss="binary_crossentropy")
    model.fit(X, y, epochs=epochs, batch_size=16, verbose=0, **kwargs)
    return model


@pytest.mark.tensorflow
def test_keras_best_checkpoint_replaced_when_the_monitored_metric_improves(tmp_path):
    import keras
    import numpy as np

    import tureen.flavors.tensorflow

    X, y = _keras_data()
    tureen.flavors.tensorflow.autolog(log_models=False)  # checkpoint=True, best only, monitor val_loss, min
    model = _keras_fit(3, validation_data=(X[:16], y[:16]))
    (run,) = runs()
    rid = run.info.run_id
    assert [f for f in _files(rid) if f.startswith("checkpoints/")] == [
        "checkpoints/latest_checkpoint.h5", "checkpoints/latest_checkpoint_metrics.json"]
    assert run.data.tags["mlflow.latest_checkpoint_artifact"] == "checkpoints/latest_checkpoint.h5"
    saved = json.loads(_download(rid, "checkpoints/latest_checkpoint_metrics.json", tmp_path).read_text())
    history = tureen.TrackingClient().get_metric_history(rid, "val_loss")
    best_epoch = min(history, key=lambda m: m.value).step
    assert saved["epoch"] == best_epoch and saved["global_step"] == 4 * (best_epoch + 1)  # 64 rows / 16
    assert saved["val_loss"] == pytest.approx(min(m.value for m in history))
    assert {"loss", "val_loss", "epoch", "global_step"} == set(saved)
    restored = keras.saving.load_model(_download(rid, "checkpoints/latest_checkpoint.h5", tmp_path / "h5"))
    if best_epoch == 2:  # the checkpoint is the trained model
        np.testing.assert_allclose(restored.predict(X[:4], verbose=0), model.predict(X[:4], verbose=0), rtol=1e-5)


@pytest.mark.tensorflow
def test_keras_every_checkpoint_by_epoch_or_steps_full_or_weights(tmp_path):
    import keras

    import tureen.flavors.tensorflow

    tureen.flavors.tensorflow.autolog(log_models=False, checkpoint_save_best_only=False)
    _keras_fit(2)  # no validation data: nothing is monitored, every epoch is kept
    tureen.flavors.tensorflow.autolog(log_models=False, checkpoint_save_best_only=False,
                                      checkpoint_save_weights_only=True, checkpoint_save_freq=3)
    _keras_fit(2)  # 8 steps: checkpoints after steps 3 and 6
    by_steps, by_epoch = runs()
    assert [f for f in _files(by_epoch.info.run_id) if f.startswith("checkpoints/")] == [
        "checkpoints/epoch_0/checkpoint.h5", "checkpoints/epoch_0/checkpoint_metrics.json",
        "checkpoints/epoch_1/checkpoint.h5", "checkpoints/epoch_1/checkpoint_metrics.json"]
    assert by_epoch.data.tags["mlflow.latest_checkpoint_artifact"] == "checkpoints/epoch_1/checkpoint.h5"
    assert [f for f in _files(by_steps.info.run_id) if f.startswith("checkpoints/")] == [
        "checkpoints/global_step_3/checkpoint.weights.h5", "checkpoints/global_step_3/checkpoint_metrics.json",
        "checkpoints/global_step_6/checkpoint.weights.h5", "checkpoints/global_step_6/checkpoint_metrics.json"]
    saved = json.loads(_download(by_steps.info.run_id, "checkpoints/global_step_6/checkpoint_metrics.json",
                                 tmp_path).read_text())
    assert saved["global_step"] == 6 and saved["epoch"] == 1 and "loss" in saved
    weights = _download(by_steps.info.run_id, "checkpoints/global_step_6/checkpoint.weights.h5", tmp_path / "w")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    model.load_weights(weights)  # a weights file, not a model


@pytest.mark.tensorflow
def test_keras_no_checkpoint_when_off_or_when_the_monitored_metric_is_missing():
    import tureen.flavors.tensorflow
    from tureen.autolog._patch import AutologgingWarning

    X, y = _keras_data()
    tureen.flavors.tensorflow.autolog(log_models=False, checkpoint=False)
    _keras_fit(2, validation_data=(X[:16], y[:16]))
    tureen.flavors.tensorflow.autolog(log_models=False)
    with pytest.warns(AutologgingWarning, match="val_loss"):
        _keras_fit(2)  # no validation data: no val_loss to pick the best by
    for run in runs():
        assert not [f for f in _files(run.info.run_id) if f.startswith("checkpoints")]
        assert "mlflow.latest_checkpoint_artifact" not in run.data.tags


@pytest.mark.tensorflow
def test_keras_save_options_reach_the_logged_model(tmp_path):
    import numpy as np
    import yaml

    import tureen
    import tureen.flavors.keras
    import tureen.flavors.tensorflow
    from tureen.autolog._patch import AutologgingWarning

    X, _ = _keras_data()
    tureen.flavors.keras.autolog(save_exported_model=True)
    model = _keras_fit(1)
    (exported,) = runs()
    (out,) = exported.outputs.model_outputs
    root = Path(tureen.artifacts.download_artifacts(f"models:/{out.model_id}", dst_path=str(tmp_path / "dl")))
    assert yaml.safe_load((root / "MLmodel").read_text())["flavors"]["keras"]["save_exported_model"] is True
    assert (root / "data" / "model" / "saved_model.pb").is_file() and not (root / "data" / "model.keras").exists()
    loaded = tureen.pyfunc.load_model(str(root), allow_pickle=True)  # a SavedModel: its graph runs at load
    np.testing.assert_allclose(np.asarray(loaded.predict(X[:4])).ravel(), model.predict(X[:4], verbose=0).ravel(),
                               rtol=1e-5)
    # the kwargs reach keras.Model.save: one it takes, one it refuses (a warning naming it)
    for configure in (lambda kw: tureen.flavors.keras.autolog(save_model_kwargs=kw),
                      lambda kw: tureen.flavors.tensorflow.autolog(keras_model_kwargs=kw, checkpoint=False)):
        tureen.flavors.keras.autolog(disable=True)
        configure({"overwrite": True})
        _keras_fit(1)
        (out,) = runs()[0].outputs.model_outputs
        assert tureen.pyfunc.load_model(f"models:/{out.model_id}").predict(X[:2]).shape[0] == 2
        configure({"no_such_option": 1})
        with pytest.warns(AutologgingWarning, match="no_such_option"):
            _keras_fit(1)
        tureen.flavors.tensorflow.autolog(disable=True)


@pytest.mark.torch
def test_lightning_checkpoints_best_and_every_n_steps(tmp_path):
    import lightning as L
    import torch

    import tureen
    import tureen.flavors.pytorch

    class Net(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(4, 1)

        def forward(self, x):
            return self.layer(x)

        def training_step(self, batch, _):
            loss = torch.nn.functional.mse_loss(self(batch[0]).squeeze(-1), batch[1])
            self.log("train_loss", loss, on_epoch=True, on_step=False)
            return loss

        def validation_step(self, batch, _):
            self.log("val_loss", torch.nn.functional.mse_loss(self(batch[0]).squeeze(-1), batch[1]))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    torch.manual_seed(0)
    X = torch.randn(64, 4)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, X[:, 0]), batch_size=32)

    def fit() -> None:
        trainer = L.Trainer(max_epochs=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                            enable_model_summary=False, num_sanity_val_steps=0)
        trainer.fit(Net(), loader, loader)

    tureen.flavors.pytorch.autolog(log_models=False)
    fit()
    tureen.flavors.pytorch.autolog(log_models=False, checkpoint_save_best_only=False,
                                   checkpoint_save_weights_only=True, checkpoint_save_freq=4)
    fit()  # 2 steps an epoch: checkpoints after global steps 4 (and the training ends at 6)
    steps, best = runs()
    assert [f for f in _files(best.info.run_id) if f.startswith("checkpoints/")] == [
        "checkpoints/latest_checkpoint.pth", "checkpoints/latest_checkpoint_metrics.json"]
    assert best.data.tags["mlflow.latest_checkpoint_artifact"] == "checkpoints/latest_checkpoint.pth"
    saved = json.loads(_download(best.info.run_id, "checkpoints/latest_checkpoint_metrics.json", tmp_path).read_text())
    history = tureen.TrackingClient().get_metric_history(best.info.run_id, "val_loss")
    best_epoch = min(history, key=lambda m: m.value).step
    assert saved["epoch"] == best_epoch and saved["global_step"] == 2 * (best_epoch + 1)
    assert saved["val_loss"] == pytest.approx(min(m.value for m in history))
    full = torch.load(_download(best.info.run_id, "checkpoints/latest_checkpoint.pth", tmp_path / "b"),
                      weights_only=False)
    assert "state_dict" in full and "optimizer_states" in full

    assert [f for f in _files(steps.info.run_id) if f.startswith("checkpoints/")] == [
        "checkpoints/global_step_4/checkpoint.weights.pth", "checkpoints/global_step_4/checkpoint_metrics.json"]
    weights = torch.load(_download(steps.info.run_id, "checkpoints/global_step_4/checkpoint.weights.pth",
                                   tmp_path / "s"), weights_only=False)
    assert "state_dict" in weights and "optimizer_states" not in weights


@pytest.mark.parametrize("flavor", ["tensorflow", "pytorch"])
@pytest.mark.parametrize("name, value", [("checkpoint_mode", "sideways"), ("checkpoint_save_freq", "hourly"),
                                         ("checkpoint_save_freq", 0), ("checkpoint_save_freq", True),
                                         ("checkpoint", "yes"), ("checkpoint_monitor", None)])
def test_bad_checkpoint_values_are_refused_by_name(flavor, name, value):
    import importlib

    from tureen.autolog import INTEGRATIONS
    from tureen.exceptions import InvalidParameterError

    autolog = importlib.import_module(INTEGRATIONS[flavor][0]).autolog
    with pytest.raises(InvalidParameterError, match=name) as info:
        autolog(**{name: value})
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"


@pytest.mark.parametrize("flavor, name", [("keras", "save_model_kwargs"), ("keras", "save_exported_model"),
                                          ("tensorflow", "keras_model_kwargs"),
                                          ("tensorflow", "saved_model_kwargs")])
def test_bad_save_options_are_refused_by_name(flavor, name):
    import importlib

    from tureen.autolog import INTEGRATIONS
    from tureen.exceptions import InvalidParameterError

    with pytest.raises(InvalidParameterError, match=name):
        importlib.import_module(INTEGRATIONS[flavor][0]).autolog(**{name: "zipped=False"})


def test_log_traces_is_accepted_and_changes_nothing(iris):
    from sklearn.tree import DecisionTreeClassifier

    import tureen

    X, y = iris
    tureen.autolog(log_traces=False, log_models=False)  # MLflow's GenAI tracing switch: nothing to trace here
    DecisionTreeClassifier(max_depth=2).fit(X, y)
    (run,) = runs()
    assert run.data.params["max_depth"] == "2" and run.data.tags["mlflow.autologging"] == "sklearn"
