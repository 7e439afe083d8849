"""The fastai flavor: trained ``Learner`` objects, tabular learners first (``tabular_learner(...)``).

fastai has one way to save a whole learner for inference, ``Learner.export``, and it is a pickle (cloudpickle,
through ``torch.save``); fastai's ``load_learner`` unpickles it with ``torch.load(weights_only=False)``. So
every load of a fastai model passes the unsafe gate with the caller's ``allow_pickle``, like the other
pickle-based flavors: with ``allow_pickle=False`` (or ``TUREEN_ALLOW_PICKLE=false``) nothing is unpickled.

The layout is the one MLflow 2.x's ``mlflow.fastai`` wrote: the export file ``model.fastai``, a ``fastai``
section (``fastai_version``, ``data``, ``code``) and ``loader_module: mlflow.fastai``, so models saved by
MLflow 2.x load here. MLflow 3.x no longer has a fastai flavor (``mlflow.fastai`` is gone), so MLflow 3.x
cannot load fastai models, whoever saved them. ``ParamScheduler`` callbacks (``fit_one_cycle``'s) are taken
off the learner while it is exported and put back afterwards, as MLflow did: they are not picklable.

pyfunc ``predict`` takes a DataFrame with the learner's input columns (``learn.dls.cat_names`` and
``cont_names``; other columns are ignored), runs fastai's own preprocessing and model
(``learn.get_preds(dl=learn.dls.test_dl(data))``, the call MLflow's wrapper made) and returns a DataFrame with
one float column per output: the class labels of a classifier (the probabilities), the target names of a
regression. (MLflow's wrapper returned one ``predictions`` column holding an array per row; the named columns
are what serving and signatures need.)
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from tureen.exceptions import ModelFormatError, SchemaEnforcementError, UnsupportedModelError
from tureen.flavors._base import resolve_data_file, suggest_flavor, unsafe_load, warn_version_mismatch
from tureen.flavors._flavor import Flavor, Predictor, Written

__all__ = ["FLAVOR", "FLAVOR_NAME", "save_model", "log_model", "load_model", "get_default_pip_requirements"]

FLAVOR_NAME = "fastai"
DATA_FILE = "model.fastai"


def get_default_pip_requirements() -> list[str]:
    """``fastai==<installed>`` and ``torch==<installed>`` (the export is a torch pickle).

    Example:
        >>> get_default_pip_requirements()[0].startswith("fastai==")  # doctest: +SKIP
        True
    """
    from tureen.env import pin

    return [pin("fastai"), pin("torch")]


def _fastai() -> Any:
    from tureen._optional import import_optional

    return import_optional("fastai", "the fastai flavor")


def _is_learner(obj: Any) -> bool:
    # by class module first, so that other objects never import fastai
    if not any(c.__module__.split(".")[0] == "fastai" for c in type(obj).__mro__):
        return False
    from fastai.learner import Learner

    return isinstance(obj, Learner)


class FastaiFlavor(Flavor):
    """fastai learners, written by ``Learner.export`` (a pickle: loading passes the gate)."""

    name = FLAVOR_NAME
    loader_module = "mlflow.fastai"
    packages = {"fastai": "fastai"}
    extra = "fastai"

    def write(self, model: Any, root: Path) -> Written:
        """Write a trained fastai ``Learner`` with ``Learner.export``.

        Args:
            model: the learner (e.g. ``tabular_learner(dls, ...)`` after ``fit``).

        Example:
            >>> save_model(learn, "fastai_model", input_example=df.head(5))  # doctest: +SKIP
        """
        if not _is_learner(model):
            raise UnsupportedModelError(f"The fastai flavor saves fastai Learner objects; got "
                                        f"{type(model).__module__}.{type(model).__qualname__}." + suggest_flavor(model))
        fastai = _fastai()
        from fastai.callback.schedule import ParamScheduler

        schedulers = [cb for cb in model.cbs if isinstance(cb, ParamScheduler)]
        model.remove_cbs(schedulers)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.export(root / DATA_FILE)
        finally:
            model.add_cbs(schedulers)
        return Written(conf={"fastai_version": fastai.__version__, "data": DATA_FILE, "code": None},
                       pyfunc={"data": DATA_FILE}, predict=_FastaiPredictor(model).predict,
                       requirements=get_default_pip_requirements())

    def read(self, root: Path, conf: dict[str, Any], *, allow_pickle: bool | None = None) -> Any:
        fastai = _fastai()
        warn_version_mismatch("fastai", conf.get("fastai_version"), fastai.__version__)
        file = resolve_data_file(root, conf.get("data") or DATA_FILE, "fastai learner")
        if not file.is_file():
            raise ModelFormatError(f"The fastai export {file.name} is missing or not a file")

        def load() -> Any:
            import pickle

            from fastai.learner import load_learner

            try:
                with warnings.catch_warnings():
                    # fastai warns that load_learner unpickles: the gate has just decided that it may
                    warnings.filterwarnings("ignore", message=".*load_learner.*")
                    return load_learner(file, cpu=True)
            except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError, ValueError,
                    RuntimeError) as exc:
                raise ModelFormatError(f"The fastai export {file.name} cannot be loaded: "
                                       f"{type(exc).__name__}: {exc}") from exc

        return unsafe_load(load, what=f"the fastai learner {file.name} (a pickle)", allow_pickle=allow_pickle)

    def predictor(self, raw: Any, **context: Any) -> Predictor:
        return _FastaiPredictor(raw)

    def needs_pickle(self, root: Path, conf: dict[str, Any]) -> bool:
        """fastai exports are always pickled."""
        return True


def _output_names(learn: Any, width: int) -> list[str]:
    """Column names of the prediction: class labels of a classifier, target names of a regression."""
    dls = learn.dls
    try:
        vocab = dls.vocab
    except AttributeError:
        vocab = None
    if vocab is not None and not isinstance(vocab, (str, bytes)):
        labels = list(vocab)
        # a multi-target learner's vocab is one list per target; a classifier's is its labels
        if len(labels) == width and not any(isinstance(v, (list, tuple)) for v in labels):
            return [str(v.item() if hasattr(v, "item") else v) for v in labels]
    names = list(getattr(dls, "y_names", None) or [])
    if len(names) == width:
        return [str(n) for n in names]
    return [str(i) for i in range(width)] if width != 1 else ["prediction"]


class _FastaiPredictor(Predictor):
    """pyfunc: fastai's preprocessing and model on a DataFrame; one float column per output."""

    def __init__(self, learn: Any) -> None:
        super().__init__(learn)
        dls = learn.dls
        self._columns = [*getattr(dls, "cat_names", []), *getattr(dls, "cont_names", [])]
        self._names: list[str] | None = None

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        import pandas as pd

        learn = self.raw
        if isinstance(data, dict):
            data = pd.DataFrame(data)
        if self._columns:
            if not isinstance(data, pd.DataFrame):
                raise SchemaEnforcementError(
                    f"A fastai tabular learner predicts from a DataFrame with columns {self._columns}; got "
                    f"{type(data).__name__}", [f"input is a {type(data).__name__}, not a DataFrame"])
            missing = [c for c in self._columns if c not in data.columns]
            if missing:
                raise SchemaEnforcementError(f"The input lacks the learner's column(s) {missing}",
                                             [f"missing column {c!r}" for c in missing])
        try:
            dl = learn.dls.test_dl(data)
            with learn.no_bar(), learn.no_logging():
                preds = learn.get_preds(dl=dl)[0]
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            text = str(exc).strip()
            raise SchemaEnforcementError(f"The input does not fit the fastai learner: "
                                         f"{text.splitlines()[0] if text else type(exc).__name__}",
                                         [text or type(exc).__name__]) from None
        values = preds.detach().cpu().numpy()
        if values.ndim == 1:
            values = values.reshape(-1, 1)
        values = values.reshape(len(values), -1)
        if self._names is None or len(self._names) != values.shape[1]:
            self._names = _output_names(learn, values.shape[1])
        return pd.DataFrame(values, columns=self._names)


FLAVOR = FastaiFlavor()
save_model = FLAVOR.save_model
log_model = FLAVOR.log_model
load_model = FLAVOR.load_model
needs_pickle = FLAVOR.needs_pickle
_load_pyfunc = FLAVOR._load_pyfunc
