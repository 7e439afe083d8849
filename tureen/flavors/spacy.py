"""The spaCy flavor: a ``Language`` pipeline as the directory spaCy's own ``to_disk`` writes.

MLflow's layout: the pipeline directory ``model.spacy`` (``config.cfg``, ``meta.json``, one folder per
component, the vocab), the section below and ``loader_module: mlflow.spacy``, so MLflow 3.x loads these models
and tureen loads MLflow's.

spaCy's serialization is msgpack and plain numpy files (no pickle), but ``config.cfg`` names the functions
spaCy calls to rebuild the pipeline. Before spaCy sees it, the config is checked:

* components copied from another pipeline (``source = ...``) and functions that read files or load other
  pipelines by name (``spacy.copy_from_base_model.v1``, ``spacy.KBFromFile.v1``, readers, loggers, ...) are
  refused outright: a saved pipeline never needs them, and they would read outside the model directory;
* factories, languages and registered functions that spaCy and thinc do not provide themselves (a third-party
  package's) and creation callbacks run code the artifact chose: they load only through the unsafe gate
  (``allow_pickle``).

pyfunc works for any pipeline, not only text classifiers. Input: texts (a one-column DataFrame, a Series, a
list or a 1-D array of strings). Output: a DataFrame with one row per text and

* one float column per text category when the pipeline sets ``doc.cats`` (``textcat``, ``textcat_multilabel``);
* ``entities``: a list of ``{"text", "label", "start_char", "end_char"}`` when it sets ``doc.ents``;
* ``tokens``: the token texts when it sets neither (e.g. a tokenizer-only pipeline).

``params={"outputs": ["cats", "entities", "tokens"]}`` chooses other columns (any of the three).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tureen.exceptions import InvalidParameterError, ModelFormatError, SchemaEnforcementError, UnsupportedModelError
from tureen.flavors._base import resolve_data_file, suggest_flavor, warn_version_mismatch
from tureen.flavors._flavor import Flavor, Predictor, Written

__all__ = ["FLAVOR", "FLAVOR_NAME", "save_model", "log_model", "load_model", "get_default_pip_requirements",
           "check_pipeline_config"]

FLAVOR_NAME = "spacy"
DATA_DIR = "model.spacy"
OUTPUTS = ("cats", "entities", "tokens")

# what spacy.load resolves: the [nlp] and [components] sections (training/initialize sections are not run)
_RESOLVED_SECTIONS = ("nlp", "components")
# registered functions that read files or other pipelines: never needed by a saved pipeline
_REFUSED_FUNCTIONS = {"spacy.copy_from_base_model.v1", "spacy.KBFromFile.v1", "spacy.LookupsDataLoader.v1",
                      "spacy.read_labels.v1"}
_REFUSED_REGISTRIES = {"readers", "loggers", "callbacks", "batchers", "augmenters"}
_CALLBACK_KEYS = ("before_creation", "after_creation", "after_pipeline_creation")
_OWN_PACKAGES = ("spacy", "thinc", "spacy_legacy")
_LANG = re.compile(r"^[a-z]{2,3}$|^xx$")


def get_default_pip_requirements() -> list[str]:
    """``spacy==<installed>``.

    Example:
        >>> get_default_pip_requirements()[0].startswith("spacy==")  # doctest: +SKIP
        True
    """
    from tureen.env import pin

    return [pin("spacy")]


def _spacy() -> Any:
    from tureen._optional import import_optional

    return import_optional("spacy", "the spacy flavor")


def _is_language(obj: Any) -> bool:
    if not any(c.__module__.split(".")[0] == "spacy" for c in type(obj).__mro__):
        return False
    from spacy.language import Language

    return isinstance(obj, Language)


# ------------------------------------------------------------------------------------------------
# the config check


def _own(func: Any, depth: int = 0) -> bool:
    """Whether ``func`` is spaCy's or thinc's code, including what a wrapper it made closes over
    (``Language.component`` registers a spaCy-made wrapper around the user's function)."""
    module = getattr(func, "__module__", "") or ""
    if module.split(".")[0] not in _OWN_PACKAGES:
        return False
    for cell in getattr(func, "__closure__", None) or ():
        try:
            inner = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if callable(inner) and not isinstance(inner, type) and (depth >= 3 or not _own(inner, depth + 1)):
            return False
    return True


def _registered(registry: str, name: str) -> Any:
    """The function spaCy/thinc registered as ``name`` (no entry points are consulted), or None."""
    import catalogue

    from spacy.registrations import populate_registry

    populate_registry()
    for namespace in ("spacy", "thinc"):
        func = catalogue.REGISTRY.get((namespace, registry, name))
        if func is not None:
            return func
    return None


def _builtin_factory(name: str, lang: str) -> bool:
    """Whether spaCy itself registered the component factory ``name`` (no entry points are consulted)."""
    import catalogue

    from spacy.pipeline.factories import register_factories

    register_factories()
    for internal in (f"{lang}.{name}", name):  # language-specific factories first, as spaCy looks them up
        func = catalogue.REGISTRY.get(("spacy", "internal_factories", internal))
        if func is not None:
            return _own(func)
    return False


def check_pipeline_config(config_text: str) -> list[str]:
    """Check a pipeline's ``config.cfg`` before spaCy reads it; return what in it runs code the artifact chose
    (empty: only spaCy's and thinc's own pieces).

    Raises:
        ModelFormatError: the config is malformed, copies components from another pipeline or names a function
            that reads files or loads other pipelines.

    Example:
        >>> check_pipeline_config('[nlp]\\nlang = "en"\\npipeline = []\\n[components]\\n')  # doctest: +SKIP
        []
    """
    from thinc.api import Config

    try:
        config = Config().from_str(config_text, interpolate=True)
    except Exception as exc:  # noqa: BLE001 - thinc raises several kinds for a malformed file
        raise ModelFormatError(f"The spaCy config.cfg cannot be parsed: {type(exc).__name__}: {exc}") from None
    nlp = config.get("nlp")
    if not isinstance(nlp, dict):
        raise ModelFormatError("The spaCy config.cfg has no [nlp] section")
    untrusted: list[str] = []
    lang = nlp.get("lang")
    if not isinstance(lang, str) or not _LANG.match(lang):
        raise ModelFormatError(f"The spaCy config.cfg names an invalid language {lang!r}")
    import importlib.util

    if importlib.util.find_spec(f"spacy.lang.{lang}") is None:
        untrusted.append(f"language {lang!r} (not one of spaCy's own)")
    for key in _CALLBACK_KEYS:
        if nlp.get(key) is not None:
            untrusted.append(f"[nlp] {key} callback")
    components = config.get("components") or {}
    if not isinstance(components, dict):
        raise ModelFormatError("The spaCy config.cfg [components] is not a section")
    for cname, comp in components.items():
        if not isinstance(comp, dict):
            raise ModelFormatError(f"The spaCy config.cfg component {cname!r} is not a section")
        if "source" in comp:
            raise ModelFormatError(f"The spaCy pipeline copies component {cname!r} from another pipeline "
                                   f"({comp['source']!r}); a saved pipeline must hold its own components")
        factory = comp.get("factory")
        if not isinstance(factory, str):
            raise ModelFormatError(f"The spaCy config.cfg component {cname!r} names no factory")
        if not _builtin_factory(factory, lang):
            untrusted.append(f"component factory {factory!r} (not one of spaCy's own)")

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(key, str) and key.startswith("@"):
                    registry = key[1:]
                    if registry in _REFUSED_REGISTRIES or value in _REFUSED_FUNCTIONS:
                        raise ModelFormatError(f"The spaCy config.cfg calls {key} = {value!r} at {where}: it reads "
                                               "files or other pipelines, which a saved pipeline never needs")
                    func = _registered(registry, str(value))
                    if func is None or not _own(func):
                        untrusted.append(f"{key} = {value!r} at {where} (not one of spaCy's or thinc's own)")
                else:
                    walk(value, f"{where}.{key}")
        elif isinstance(node, (list, tuple)):
            for i, value in enumerate(node):
                walk(value, f"{where}[{i}]")

    for section in _RESOLVED_SECTIONS:
        walk(config.get(section), section)
    return untrusted


# ------------------------------------------------------------------------------------------------
# the flavor


class SpacyFlavor(Flavor):
    """spaCy pipelines in spaCy's own directory format (no pickle); third-party code only through the gate."""

    name = FLAVOR_NAME
    loader_module = "mlflow.spacy"
    packages = {"spacy": "spacy"}
    extra = "spacy"

    def write(self, model: Any, root: Path) -> Written:
        """Write a spaCy pipeline (``spacy.blank(...)`` or a trained ``Language``) with ``nlp.to_disk``.

        Example:
            >>> import spacy  # doctest: +SKIP
            >>> save_model(spacy.blank("en"), "tokenizer_model", input_example=["A sentence."])  # doctest: +SKIP
        """
        if not _is_language(model):
            raise UnsupportedModelError(f"The spacy flavor saves spaCy Language pipelines; got "
                                        f"{type(model).__module__}.{type(model).__qualname__}." + suggest_flavor(model))
        spacy = _spacy()
        model.to_disk(root / DATA_DIR)
        return Written(conf={"spacy_version": spacy.__version__, "data": DATA_DIR, "code": None},
                       pyfunc={"data": DATA_DIR}, predict=_SpacyPredictor(model).predict,
                       requirements=get_default_pip_requirements())

    def _pipeline_dir(self, root: Path, conf: dict[str, Any]) -> Path:
        data = resolve_data_file(root, conf.get("data") or DATA_DIR, "spaCy pipeline")
        if not data.is_dir() or not (data / "config.cfg").is_file():
            raise ModelFormatError(f"The spaCy pipeline {data.name} is not a pipeline directory with a config.cfg")
        return data

    def untrusted(self, root: Path, conf: dict[str, Any]) -> list[str]:
        """What in the pipeline's config runs code that spaCy and thinc do not provide (empty: safe)."""
        data = self._pipeline_dir(root, conf)
        return check_pipeline_config((data / "config.cfg").read_text(encoding="utf-8", errors="replace"))

    def read(self, root: Path, conf: dict[str, Any], *, allow_pickle: bool | None = None) -> Any:
        from tureen.exceptions import UntrustedCodeError
        from tureen.flavors._gate import require_unsafe_allowed

        spacy = _spacy()
        warn_version_mismatch("spacy", conf.get("spacy_version"), spacy.__version__)
        data = self._pipeline_dir(root, conf)
        untrusted = check_pipeline_config((data / "config.cfg").read_text(encoding="utf-8", errors="replace"))
        if untrusted:
            require_unsafe_allowed(f"the spaCy pipeline {data.name}, whose config runs code of the artifact's "
                                   f"choosing: {'; '.join(untrusted)}", allow_pickle, error=UntrustedCodeError)
        try:
            return spacy.load(data)
        except (ValueError, KeyError, OSError, TypeError) as exc:
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelFormatError(f"The spaCy pipeline {data.name} cannot be loaded: {text}") from None

    def predictor(self, raw: Any, **context: Any) -> Predictor:
        impl = _SpacyPredictor(raw)
        _warm_up(impl)
        return impl

    def needs_pickle(self, root: Path, conf: dict[str, Any]) -> bool:
        """Whether the pipeline's config runs third-party code (spaCy's own format has no pickle)."""
        try:
            return bool(self.untrusted(root, conf))
        except ModelFormatError:
            return False

    def describe(self, root: Path, conf: dict[str, Any]) -> dict[str, Any]:
        """The pipeline's language, components and what pyfunc returns, from its config (nothing loaded)."""
        from thinc.api import Config

        data = self._pipeline_dir(root, conf)
        try:
            nlp = Config().from_str((data / "config.cfg").read_text(encoding="utf-8"), interpolate=False)["nlp"]
        except Exception:  # noqa: BLE001 - describe never fails an inspect
            return {}
        return {"language": nlp.get("lang"), "pipeline": list(nlp.get("pipeline") or [])}


def _texts(data: Any) -> list[str]:
    """The input as a list of strings (typed error for anything else)."""
    import numpy as np
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        if data.shape[1] != 1:
            raise SchemaEnforcementError(f"A spaCy model takes one column of texts; got {data.shape[1]} columns",
                                         [f"expected 1 column, got {data.shape[1]}"])
        try:  # the column's array straight from the block manager: a Series is not built (~30 us less)
            values = data._mgr.iget_values(0).tolist()
        except (AttributeError, TypeError):  # a pandas without it
            values = data.iloc[:, 0].tolist()
    elif isinstance(data, pd.Series):
        values = data.tolist()
    elif isinstance(data, np.ndarray):
        if data.ndim == 2 and data.shape[1] == 1:
            data = data[:, 0]
        if data.ndim != 1:
            raise SchemaEnforcementError(f"A spaCy model takes a 1-D array of texts; got shape {data.shape}",
                                         [f"shape {data.shape}"])
        values = data.tolist()
    elif isinstance(data, str):
        values = [data]
    elif isinstance(data, (list, tuple)):
        values = list(data)
    else:
        raise SchemaEnforcementError(f"A spaCy model takes texts; got {type(data).__name__}",
                                     [f"unsupported input {type(data).__name__}"])
    bad = next((v for v in values if not isinstance(v, str)), None)
    if bad is not None or any(not isinstance(v, str) for v in values):
        raise SchemaEnforcementError(f"A spaCy model takes strings; got {type(bad).__name__} {bad!r:.40}",
                                     [f"non-string value {type(bad).__name__}"])
    return values


class _SpacyPredictor(Predictor):
    """pyfunc for any pipeline: category scores, entities and/or tokens as columns."""

    def __init__(self, nlp: Any) -> None:
        super().__init__(nlp)
        assigns: set[str] = set()
        for pipe_name in nlp.pipe_names:
            try:
                assigns.update(nlp.get_pipe_meta(pipe_name).assigns)
            except (ValueError, KeyError):  # a component without factory meta
                continue
        self.default_outputs = [o for o, attr in (("cats", "doc.cats"), ("entities", "doc.ents")) if attr in assigns]
        if not self.default_outputs:
            self.default_outputs = ["tokens"]
        labels: list[str] = []
        for pipe_name, pipe_labels in getattr(nlp, "pipe_labels", {}).items():
            try:
                if "doc.cats" in nlp.get_pipe_meta(pipe_name).assigns:
                    labels.extend(lb for lb in pipe_labels if lb not in labels)
            except (ValueError, KeyError):
                continue
        self.cat_labels = labels
        self._cats_index: tuple[list[str], Any] | None = None

    def _outputs(self, params: dict[str, Any] | None) -> list[str]:
        wanted = (params or {}).get("outputs")
        if wanted is None:
            return self.default_outputs
        if isinstance(wanted, str):
            wanted = [wanted]
        if not isinstance(wanted, (list, tuple)) or not wanted or any(w not in OUTPUTS for w in wanted):
            raise InvalidParameterError(f"params 'outputs' must name some of {list(OUTPUTS)}, got {wanted!r}")
        return list(dict.fromkeys(wanted))

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        import pandas as pd

        outputs = self._outputs(params)
        texts = _texts(data)
        docs = list(self.raw.pipe(texts))
        index = data.index if isinstance(data, (pd.DataFrame, pd.Series)) else None
        columns: dict[str, Any] = {}
        if "cats" in outputs:
            labels = list(self.cat_labels)
            for doc in docs:
                labels.extend(lb for lb in doc.cats if lb not in labels)
            if outputs == ["cats"]:  # the common case: one float block, the column Index built once
                return self._cats_frame(docs, labels, index)
            for label in labels:
                columns[label] = [float(doc.cats.get(label, float("nan"))) for doc in docs]
        if "entities" in outputs:
            columns["entities"] = [[{"text": e.text, "label": e.label_, "start_char": e.start_char,
                                     "end_char": e.end_char} for e in doc.ents] for doc in docs]
        if "tokens" in outputs:
            columns["tokens"] = [[t.text for t in doc] for doc in docs]
        return pd.DataFrame(columns, index=index)

    def _cats_frame(self, docs: list[Any], labels: list[str], index: Any) -> Any:
        """One float column per category, built from one 2-D array (a dict of lists costs ~40 us more)."""
        import numpy as np
        import pandas as pd

        nan = float("nan")
        values = np.array([[doc.cats.get(label, nan) for label in labels] for doc in docs], dtype=float)
        if self._cats_index is None or self._cats_index[0] != labels:
            self._cats_index = (labels, pd.Index(labels, dtype=object))
        return pd.DataFrame(values.reshape(len(docs), len(labels)), columns=self._cats_index[1], index=index,
                            copy=False)


#: the text of the throwaway prediction made at load
WARM_UP_TEXT = "A short text to warm the pipeline up."


def _warm_up(impl: _SpacyPredictor) -> None:
    """One throwaway prediction at load, so that the pipeline's one-time set-up (its model's first forward
    pass, lazily built tables, pandas' first frame) happens there rather than in the first request. A failure
    is logged and the model loads all the same: the warm-up never decides whether a model is usable."""
    import pandas as pd

    try:
        impl.predict(pd.DataFrame({"text": [WARM_UP_TEXT]}))
    except Exception as exc:  # noqa: BLE001 - any pipeline's error: reported, never raised
        import logging

        logging.getLogger(__name__).info("The spaCy pipeline's warm-up prediction failed (the model loads "
                                         "all the same): %s: %s", type(exc).__name__, exc)


FLAVOR = SpacyFlavor()
save_model = FLAVOR.save_model
log_model = FLAVOR.log_model
load_model = FLAVOR.load_model
needs_pickle = FLAVOR.needs_pickle
_load_pyfunc = FLAVOR._load_pyfunc
