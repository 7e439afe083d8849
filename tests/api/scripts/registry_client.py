# The model registry through MlflowClient: versions, aliases, tags, stages, search, rename, delete.
import json

import mlflow
from mlflow import MlflowClient
from sklearn.linear_model import LinearRegression

model = LinearRegression().fit([[0.0], [1.0], [2.0]], [1.0, 3.0, 5.0])
with mlflow.start_run() as run:
    mlflow.sklearn.log_model(model, name="model")
client = MlflowClient()
client.create_registered_model("lin", tags={"team": "ml"}, description="a line")
v1 = client.create_model_version("lin", f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
v2 = mlflow.register_model(f"runs:/{run.info.run_id}/model", "lin")
client.set_registered_model_alias("lin", "champion", v2.version)
client.set_model_version_tag("lin", v1.version, "validated", "yes")
client.update_model_version("lin", v1.version, description="first")
client.transition_model_version_stage("lin", v1.version, "Staging")
champion = client.get_model_version_by_alias("lin", "champion")
loaded = mlflow.pyfunc.load_model("models:/lin@champion")
by_version = mlflow.pyfunc.load_model(f"models:/lin/{v2.version}")  # v1: see the migrating doc
found = client.search_model_versions("name = 'lin'")
models = client.search_registered_models(filter_string="name LIKE 'li%'")
rm = client.get_registered_model("lin")
latest = client.get_latest_versions("lin", stages=["Staging"])
client.rename_registered_model("lin", "line")
after = client.get_registered_model("line")
client.delete_model_version("line", v1.version)
remaining = [mv.version for mv in client.search_model_versions("name = 'line'")]
print(json.dumps({
    "versions": [v1.version, v2.version],  # ints from a SQL store, in both
    "version_type": type(v1.version).__name__,
    "champion": champion.version,
    "champion_aliases": champion.aliases,
    "aliases": rm.aliases,
    "alias_type": type(rm.aliases["champion"]).__name__,
    "tags": rm.tags,
    "description": rm.description,
    "v2_stage": client.get_model_version("line", v2.version).current_stage,
    "tags_by_version": {mv.version: mv.tags for mv in found},
    "stages_by_version": {mv.version: mv.current_stage for mv in found},
    "n_found": len(found),
    "n_models": len(models),
    "latest_staging": [mv.version for mv in latest],
    "predict_alias": [round(v, 9) for v in loaded.predict([[3.0]]).tolist()],
    "predict_version": [round(v, 9) for v in by_version.predict([[4.0]]).tolist()],
    "renamed": after.name,
    "remaining": remaining,
    "download_uri_ok": bool(client.get_model_version_download_uri("line", v2.version)),
}))
