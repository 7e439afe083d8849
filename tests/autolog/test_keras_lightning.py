"""Keras 3 and PyTorch Lightning autologging (tiny models, a few epochs)."""

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
    assert run.data.tags["mlflow.autologging"] == "keras"
    params = run.data.params
    assert params["epochs"] == "3" and params["batch_size"] == "32"
    assert params["optimizer_name"] == "adam" and float(params["optimizer_learning_rate"]) == pytest.approx(0.01)
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
    model.fit(X.astype("float32"), y.astype("float32"), epochs=10, verbose=0, callbacks=[stopper])
    (run,) = runs()
    assert run.data.params["patience"] == "1" and run.data.params["monitor"] == "loss"
    assert run.data.metrics["stopped_epoch"] == stopper.stopped_epoch > 0
    assert "restored_epoch" in run.data.metrics
    tureen.flavors.tensorflow.autolog(disable=True)
    assert keras.Model.fit is fit and "fit" not in vars(keras.Model)


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
