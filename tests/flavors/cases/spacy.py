"""spaCy: a blank English pipeline with a multi-label text categorizer trained on a few sentences (nothing
downloaded), saved as spaCy's own pipeline directory; pyfunc returns one score column per category."""

from __future__ import annotations

from cases import Built, FlavorCase

#: runs on both sides (tureen's venv and the MLflow peer): defines build_nlp(texts, labels)
BUILD = """
def build_nlp(texts, labels):
    import random
    import spacy
    from spacy.training import Example

    random.seed(0)
    spacy.util.fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("textcat_multilabel").add_label("POSITIVE")
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": {"POSITIVE": float(l)}}) for t, l in zip(texts, labels)]
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(8):
        nlp.update(examples, sgd=optimizer)
    return nlp
"""

TEXTS = ["I love this film", "a wonderful happy day", "great food and kind people", "what a lovely gift",
         "I hate waiting", "a terrible sad story", "awful noise and rude staff", "this is bad and boring"]
LABELS = [1, 1, 1, 1, 0, 0, 0, 0]


def _build() -> Built:
    import pandas as pd

    namespace: dict = {}
    exec(BUILD, namespace)  # noqa: S102 - our own test code, shared with the MLflow side
    X = pd.DataFrame({"text": TEXTS})
    y = pd.Series(LABELS)
    return Built(namespace["build_nlp"](TEXTS, LABELS), X, y, X.head(3))


def _native(nlp, X):
    import numpy as np

    return np.array([doc.cats["POSITIVE"] for doc in nlp.pipe([str(t) for t in X["text"]])], dtype=float)


MLFLOW_SAVE = BUILD + """
import mlflow.spacy, mlflow.pyfunc
texts = [str(t) for t in X["text"]]
nlp = build_nlp(texts, [int(v) for v in y])
p = f"{root}/pipeline"
mlflow.spacy.save_model(nlp, p, input_example=X.head(3), pip_requirements=[])
preds = mlflow.pyfunc.load_model(p).predict(X)
out["pipeline"] = {"native": [d.cats["POSITIVE"] for d in nlp.pipe(texts)],
                   "pyfunc": [d["POSITIVE"] for d in preds["predictions"]]}
"""

MLFLOW_LOAD = """
import mlflow.spacy, mlflow.pyfunc
texts = [str(t) for t in X["text"]]
out["native"] = [d.cats["POSITIVE"] for d in mlflow.spacy.load_model(path).pipe(texts)]
out["pyfunc"] = [d["POSITIVE"] for d in mlflow.pyfunc.load_model(path).predict(X)["predictions"]]
"""

CASES = [
    FlavorCase(id="spacy-textcat", module="tureen.flavors.spacy", framework="spacy", build=_build, section="spacy",
               keys={"spacy_version", "data", "code"}, loader_module="mlflow.spacy", requirement="spacy",
               mlflow_save=MLFLOW_SAVE, mlflow_load=MLFLOW_LOAD, pickle_kw=None, native_predict=_native,
               bad_dtype=lambda X: X.assign(text=1.5), bad_shape=lambda X: X.drop(columns=["text"]),
               unsupported=(object(), "Language"), version_key="spacy_version",
               data_file="model.spacy/textcat_multilabel/model", rtol=1e-5),
]
