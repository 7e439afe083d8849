# Models from code: the model is a Python file that calls mlflow.models.set_model.
import json
import os
import tempfile

import mlflow
import pandas as pd

CODE = '''
import mlflow

class Doubler(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input * 2

mlflow.models.set_model(Doubler())
'''
path = os.path.join(tempfile.mkdtemp(), "doubler.py")
with open(path, "w") as f:
    f.write(CODE)
example = pd.DataFrame({"x": [1.0, 2.0]})
with mlflow.start_run():
    info = mlflow.pyfunc.log_model(name="doubler", python_model=path, input_example=example)
model = mlflow.pyfunc.load_model(info.model_uri)
conf = model.metadata.flavors["python_function"]
print(json.dumps({
    "predictions": model.predict(example)["x"].tolist(),
    "code_file": os.path.basename(conf["model_code_path"]),
    "pickled": "python_model" in conf,
}))
