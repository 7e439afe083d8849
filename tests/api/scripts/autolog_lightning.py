# Autologging a PyTorch Lightning fit (two epochs of a linear model).
import json

import lightning as L
import mlflow
import torch


class Net(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch, _):
        x, t = batch
        loss = torch.nn.functional.mse_loss(self.layer(x).squeeze(-1), t)
        self.log("train_loss", loss, on_epoch=True, on_step=False)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


torch.manual_seed(0)
X = torch.randn(64, 4)
data = torch.utils.data.TensorDataset(X, (X[:, 0] > 0).float())
mlflow.pytorch.autolog(log_models=False)
trainer = L.Trainer(max_epochs=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                    enable_model_summary=False)
with mlflow.start_run() as run:
    trainer.fit(Net(), torch.utils.data.DataLoader(data, batch_size=32))
got = mlflow.get_run(run.info.run_id)
print(json.dumps({"params": sorted(got.data.params), "metrics": sorted(got.data.metrics),
                  "epochs": got.data.params.get("epochs"),
                  "steps": [m.step for m in mlflow.MlflowClient().get_metric_history(run.info.run_id, "train_loss")]}))
