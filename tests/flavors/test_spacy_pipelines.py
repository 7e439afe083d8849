"""spaCy beyond the conformance case: pyfunc on pipelines that are not text classifiers (entities, tokens,
exclusive categories, params), and hostile pipeline configs (components sourced from elsewhere, file-reading
functions, third-party factories and callbacks behind the gate)."""

from __future__ import annotations

import re
import shutil

import pandas as pd
import pytest

spacy = pytest.importorskip("spacy")

from tureen import pyfunc  # noqa: E402
from tureen.exceptions import InvalidParameterError, ModelFormatError, UntrustedCodeError  # noqa: E402
from tureen.flavors import spacy as tspacy  # noqa: E402
from tureen.flavors._integrity import seal_model_dir  # noqa: E402
from tureen.models import Model  # noqa: E402

TEXTS = ["I ate apples in Paris", "pears are sold in Rome", "we love Berlin", "plain words here"]


@pytest.fixture(scope="module")
def ner_nlp():
    """A blank pipeline with an NER component trained on four sentences (entities: FRUIT, CITY)."""
    from spacy.training import Example

    spacy.util.fix_random_seed(0)
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("ner")
    for label in ("FRUIT", "CITY"):
        ner.add_label(label)
    gold = [{"entities": [(6, 12, "FRUIT"), (16, 21, "CITY")]}, {"entities": [(0, 5, "FRUIT"), (18, 22, "CITY")]},
            {"entities": [(8, 14, "CITY")]}, {"entities": []}]
    examples = [Example.from_dict(nlp.make_doc(t), g) for t, g in zip(TEXTS, gold)]
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(40):
        nlp.update(examples, sgd=optimizer, drop=0.0)
    return nlp


@pytest.fixture(scope="module")
def ner_model(ner_nlp, tmp_path_factory):
    path = tmp_path_factory.mktemp("spacy") / "ner"
    tspacy.save_model(ner_nlp, path, input_example=(pd.DataFrame({"text": TEXTS[:2]}), {"outputs": ["entities"]}))
    return path


def test_entities_as_a_column(ner_nlp, ner_model):
    model = pyfunc.load_model(ner_model, allow_pickle=False)
    frame = pd.DataFrame({"text": TEXTS})
    out = model.predict(frame)
    assert list(out.columns) == ["entities"]
    want = [[(e.text, e.label_, e.start_char, e.end_char) for e in doc.ents] for doc in ner_nlp.pipe(TEXTS)]
    got = [[(e["text"], e["label"], e["start_char"], e["end_char"]) for e in row] for row in out["entities"]]
    assert got == want
    assert any(row for row in got), "the trained NER finds entities"
    tokens = model.predict(frame, params={"outputs": ["tokens", "entities"]})
    assert list(tokens.columns) == ["entities", "tokens"]
    assert tokens["tokens"][2] == ["we", "love", "Berlin"]
    with pytest.raises(InvalidParameterError, match="outputs"):
        model.predict(frame, params={"outputs": ["parse_tree"]})


def test_tokenizer_only_pipeline_returns_tokens(tmp_path):
    path = tmp_path / "blank"
    tspacy.save_model(spacy.blank("en"), path, input_example=["Hello world."])
    model = pyfunc.load_model(path)
    assert model.predict(["Dr. Smith's cat.", "Hi!"])["tokens"].tolist() == [
        ["Dr.", "Smith", "'s", "cat", "."], ["Hi", "!"]]
    assert model.predict(pd.Series(["a b"]))["tokens"][0] == ["a", "b"]
    with pytest.raises(InvalidParameterError):
        model.predict([1, 2])


def test_exclusive_categories_are_one_column_each(tmp_path):
    from spacy.training import Example

    nlp = spacy.blank("en")
    textcat = nlp.add_pipe("textcat")
    for label in ("SPORT", "FOOD"):
        textcat.add_label(label)
    data = [("the match was won", "SPORT"), ("a goal in the game", "SPORT"), ("bread and cheese", "FOOD"),
            ("soup for lunch", "FOOD")]
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": {"SPORT": float(c == "SPORT"), "FOOD": float(c == "FOOD")}})
                for t, c in data]
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(10):
        nlp.update(examples, sgd=optimizer)
    path = tmp_path / "textcat"
    tspacy.save_model(nlp, path, input_example=pd.DataFrame({"text": ["a game"]}))
    out = pyfunc.load_model(path).predict(pd.DataFrame({"text": ["bread", "goal"]}))
    assert list(out.columns) == ["SPORT", "FOOD"]
    assert (out.sum(axis=1) - 1).abs().max() < 1e-5  # exclusive: the scores of a text add up to 1
    assert out.loc[0, "FOOD"] > out.loc[0, "SPORT"] and out.loc[1, "SPORT"] > out.loc[1, "FOOD"]
    assert tspacy.FLAVOR.describe(path, Model.load(path).flavors["spacy"]) == {"language": "en",
                                                                                "pipeline": ["textcat"]}


# ------------------------------------------------------------------------------------------------
# hostile configs


def _edited(src, dst, edit):
    shutil.copytree(src, dst)
    cfg = dst / "model.spacy" / "config.cfg"
    cfg.write_text(edit(cfg.read_text()))
    seal_model_dir(dst, Model.load(dst))  # digests recomputed: only the config check stands in the way
    return dst


def test_sourced_component_is_refused(ner_model, tmp_path):
    path = _edited(ner_model, tmp_path / "sourced",
                   lambda t: t.replace('[components.ner]\nfactory = "ner"',
                                       f'[components.ner]\nsource = "{tmp_path}/elsewhere"'))
    for load in (lambda: pyfunc.load_model(path), lambda: tspacy.load_model(path, allow_pickle=True)):
        with pytest.raises(ModelFormatError, match="another pipeline"):
            load()


@pytest.mark.parametrize("snippet", [
    '[nlp.after_creation]\n@callbacks = "spacy.copy_from_base_model.v1"\ntokenizer = "/etc"\nvocab = null\n',
    '[components.ner.labels]\n@readers = "spacy.read_labels.v1"\npath = "/etc/passwd"\n',
], ids=["copy-from-base-model", "read-labels"])
def test_file_reading_functions_are_refused(ner_model, tmp_path, snippet):
    def edit(text):
        if "after_creation" in snippet:
            text = text.replace("after_creation = null\n", "")
        return text + "\n" + snippet

    path = _edited(ner_model, tmp_path / "reader", edit)
    with pytest.raises(ModelFormatError, match="reads files"):
        pyfunc.load_model(path, allow_pickle=True)


def test_invalid_language_is_refused(ner_model, tmp_path):
    path = _edited(ner_model, tmp_path / "lang", lambda t: re.sub(r'lang = "en"', 'lang = "../../os"', t))
    with pytest.raises(ModelFormatError, match="language"):
        pyfunc.load_model(path)


def test_third_party_factory_passes_the_gate(tmp_path, monkeypatch):
    from spacy.language import Language

    if "tureen_test_shout" not in Language.factories:
        @Language.component("tureen_test_shout")
        def shout(doc):  # a component from this test module: not spaCy's own code
            return doc

    nlp = spacy.blank("en")
    nlp.add_pipe("tureen_test_shout")
    path = tmp_path / "custom"
    tspacy.save_model(nlp, path, input_example=["hi there"])
    assert tspacy.FLAVOR.needs_pickle(path, Model.load(path).flavors["spacy"])
    with pytest.raises(UntrustedCodeError, match="tureen_test_shout"):
        pyfunc.load_model(path, allow_pickle=False)
    monkeypatch.setenv("TUREEN_ALLOW_PICKLE", "false")
    with pytest.raises(UntrustedCodeError):
        tspacy.load_model(path)
    monkeypatch.delenv("TUREEN_ALLOW_PICKLE")
    assert pyfunc.load_model(path, allow_pickle=True).predict(["hi there"])["tokens"][0] == ["hi", "there"]


def test_inspect_shows_what_describe_reads(ner_model):
    from tureen.cli.models import describe_model

    info = describe_model(str(ner_model))
    assert info["described"] == {"spacy": {"language": "en", "pipeline": ["ner"]}}
    assert info["needs_pickle"] == {"spacy": False}


SEEN: list[str] = []


def _register_test_components():
    from spacy.language import Language

    if "tureen_test_record" not in Language.factories:
        @Language.component("tureen_test_record")
        def record(doc):  # remembers every text the pipeline runs on
            SEEN.append(doc.text)
            return doc

    if "tureen_test_refuse_warm" not in Language.factories:
        @Language.component("tureen_test_refuse_warm")
        def refuse(doc):  # fails on the warm-up text only
            if "warm" in doc.text:
                raise ValueError("no warm texts here")
            return doc


def test_one_warm_up_prediction_runs_at_load(tmp_path):
    _register_test_components()
    nlp = spacy.blank("en")
    nlp.add_pipe("tureen_test_record")
    tspacy.save_model(nlp, tmp_path / "m", input_example=["hi there"])
    SEEN.clear()
    model = pyfunc.load_model(tmp_path / "m", allow_pickle=True)
    assert SEEN == [tspacy.WARM_UP_TEXT]
    assert model.predict(pd.DataFrame({"text": ["hi there"]}))["tokens"][0] == ["hi", "there"]
    assert SEEN == [tspacy.WARM_UP_TEXT, "hi there"]
    SEEN.clear()
    tspacy.load_model(tmp_path / "m", allow_pickle=True)  # the native model: no prediction made
    assert SEEN == []


def test_a_failing_warm_up_is_logged_and_the_model_loads(tmp_path, caplog):
    import logging

    _register_test_components()
    nlp = spacy.blank("en")
    nlp.add_pipe("tureen_test_refuse_warm")
    tspacy.save_model(nlp, tmp_path / "m", input_example=["hi there"])
    with caplog.at_level(logging.INFO, logger="tureen.flavors.spacy"):
        model = pyfunc.load_model(tmp_path / "m", allow_pickle=True)
    assert any("warm-up prediction failed" in r.getMessage() and "no warm texts" in r.getMessage()
               for r in caplog.records)
    assert model.predict(["cold text"])["tokens"][0] == ["cold", "text"]
