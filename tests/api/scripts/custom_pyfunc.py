# A custom PythonModel with an artifact, a signature and params.
import json
import os
import tempfile

import mlflow
import pandas as pd


class Lookup(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        with open(context.artifacts["table"]) as f:
            self.table = json.load(f)

    def predict(self, context, model_input, params=None):
        scale = (params or {}).get("scale", 1)
        return [self.table.get(k, 0) * scale for k in model_input["key"]]


folder = tempfile.mkdtemp()
table = os.path.join(folder, "table.json")
with open(table, "w") as f:
    json.dump({"a": 1, "b": 2}, f)
example = pd.DataFrame({"key": ["a", "b", "c"]})
signature = mlflow.models.infer_signature(example, [1, 2, 0], params={"scale": 1})
with mlflow.start_run():
    info = mlflow.pyfunc.log_model(name="lookup", python_model=Lookup(), artifacts={"table": table},
                                   signature=signature, input_example=example)
model = mlflow.pyfunc.load_model(info.model_uri)
print(json.dumps({
    "plain": model.predict(example),
    "scaled": model.predict(example, params={"scale": 10}),
    "signature": {k: json.loads(v) if v else v for k, v in model.metadata.signature.to_dict().items()},
    "flavors": sorted(model.metadata.flavors),
    "unwrapped": type(model.unwrap_python_model()).__name__,
    "serving": json.loads(mlflow.models.convert_input_example_to_serving_input(example)),
}))
