# Autologging a Keras fit (two epochs of a one-layer model).
import json

import keras
import mlflow
import numpy as np

rng = np.random.default_rng(0)
X = rng.normal(size=(64, 4)).astype("float32")
y = (X[:, 0] > 0).astype("float32")
mlflow.tensorflow.autolog(log_models=False)
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="sgd", loss="binary_crossentropy")
with mlflow.start_run() as run:
    model.fit(X, y, epochs=2, batch_size=32, verbose=0)
got = mlflow.get_run(run.info.run_id)
print(json.dumps({"params": sorted(got.data.params), "metrics": sorted(got.data.metrics),
                  "epochs": got.data.params.get("epochs"),
                  "loss_steps": [m.step for m in mlflow.MlflowClient().get_metric_history(run.info.run_id, "loss")]}))
