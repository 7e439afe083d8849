"""The PNG plots MLflow's autologging records: a classifier's confusion matrix, ROC and precision-recall curves,
and XGBoost/LightGBM feature importance.

Figures are drawn with ``matplotlib.figure.Figure`` on an Agg canvas, never through ``pyplot``: no backend is
switched, no figure is registered globally, and ``rcParams`` are only read. Without matplotlib no plot is drawn
and nothing is said (as in MLflow). A plot that cannot be drawn (e.g. a multi-output classifier) is reported
once as a warning and skipped; the other artifacts are still logged.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable

from tureen.autolog._patch import warn_once

__all__ = ["have_matplotlib", "log_classifier_plots", "feature_importance_png"]

_CLASSIFIER_DPI = 175  # MLflow saves the classifier plots at 175 dpi on a 6 x 4 inch figure
_MAX_ANNOTATED_CLASSES = 30  # beyond this the confusion-matrix cells are not labelled (unreadable and slow)
_MISSING = object()
_agg: Any = None


def have_matplotlib() -> bool:
    """Whether matplotlib can be imported (checked once per process).

    Example:
        >>> have_matplotlib()  # doctest: +SKIP
        True
    """
    return _canvas() is not None


def _canvas() -> tuple[type, type] | None:
    global _agg
    if _agg is None:
        try:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure
        except ImportError:
            _agg = _MISSING
        else:
            _agg = (Figure, FigureCanvasAgg)
    return None if _agg is _MISSING else _agg


def _new_figure(width: float, height: float, dpi: float) -> Any:
    agg = _canvas()
    assert agg is not None
    figure_cls, canvas_cls = agg
    fig = figure_cls(figsize=(width, height), dpi=dpi)
    canvas_cls(fig)
    return fig


def _save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    # zlib level 1: a quarter larger files, a third of the encoding time (which is a fifth of a plot's cost)
    fig.savefig(path, format="png", dpi=fig.dpi, pil_kwargs={"compress_level": 1})


# ------------------------------------------------------------------------------------------------
# classifiers


def _positive_scores(est: Any, X: Any, proba: Any) -> tuple[Any, Any]:
    """(scores of the positive class, positive label) as scikit-learn's curve displays choose them."""
    pos_label = est.classes_[1]
    if proba is None and hasattr(est, "predict_proba"):
        proba = est.predict_proba(X)
    if proba is not None:
        return proba[:, 1], pos_label
    if hasattr(est, "decision_function"):
        return est.decision_function(X), pos_label
    raise ValueError(f"{type(est).__name__} has neither predict_proba nor decision_function")


def _confusion_matrix(fig_path: Path, est: Any, y: Any, y_pred: Any, sample_weight: Any) -> None:
    import numpy as np
    from sklearn.metrics import confusion_matrix
    from sklearn.utils.multiclass import unique_labels

    labels = unique_labels(y, y_pred)
    cm = confusion_matrix(y, y_pred, labels=labels, sample_weight=sample_weight, normalize="true")
    n = len(labels)
    font = min(8.0, 50.0 / n)
    fig = _new_figure(6.0, 4.0, _CLASSIFIER_DPI)
    ax = fig.add_subplot()
    image = ax.imshow(cm, interpolation="nearest", cmap="Blues")
    fig.colorbar(image, ax=ax).ax.tick_params(labelsize=8.0)
    if n <= _MAX_ANNOTATED_CLASSES:
        low, high = float(np.nanmin(cm)), float(np.nanmax(cm))
        middle = (low + high) / 2.0
        light, dark = image.cmap(0.0), image.cmap(1.0)
        for i in range(n):
            for j in range(n):
                value = cm[i, j]
                ax.text(j, i, format(value, ".2g"), ha="center", va="center", fontsize=font,
                        color=light if value >= middle else dark)
    ticks = np.arange(n)
    names = [str(label) for label in labels]
    ax.set_xticks(ticks, names, fontsize=font)
    ax.set_yticks(ticks, names, fontsize=font)
    ax.set_xlabel("Predicted label", fontsize=8.0)
    ax.set_ylabel("True label", fontsize=8.0)
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_title("Normalized confusion matrix", fontsize=8.0)
    _save(fig, fig_path)


def _roc_curve(fig_path: Path, est: Any, y: Any, scores: Any, pos_label: Any, sample_weight: Any) -> None:
    from sklearn.metrics import auc, roc_curve

    fpr, tpr, _ = roc_curve(y, scores, pos_label=pos_label, sample_weight=sample_weight)
    fig = _new_figure(6.0, 4.0, _CLASSIFIER_DPI)
    ax = fig.add_subplot()
    ax.plot(fpr, tpr, label=f"{type(est).__name__} (AUC = {auc(fpr, tpr):.2f})")
    _curve_axes(ax, f"False Positive Rate (Positive label: {pos_label})",
                f"True Positive Rate (Positive label: {pos_label})", "ROC curve", "lower right")
    _save(fig, fig_path)


def _precision_recall_curve(fig_path: Path, est: Any, y: Any, scores: Any, pos_label: Any,
                            sample_weight: Any) -> None:
    from sklearn.metrics import average_precision_score, precision_recall_curve

    precision, recall, _ = precision_recall_curve(y, scores, pos_label=pos_label, sample_weight=sample_weight)
    ap = average_precision_score(y, scores, pos_label=pos_label, sample_weight=sample_weight)
    fig = _new_figure(6.0, 4.0, _CLASSIFIER_DPI)
    ax = fig.add_subplot()
    ax.plot(recall, precision, drawstyle="steps-post", label=f"{type(est).__name__} (AP = {ap:.2f})")
    _curve_axes(ax, f"Recall (Positive label: {pos_label})", f"Precision (Positive label: {pos_label})",
                "Precision recall curve", "lower left")
    _save(fig, fig_path)


def _curve_axes(ax: Any, xlabel: str, ylabel: str, title: str, legend: str) -> None:
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel(xlabel, fontsize=8.0)
    ax.set_ylabel(ylabel, fontsize=8.0)
    ax.tick_params(labelsize=8.0)
    ax.set_title(title, fontsize=8.0)
    ax.legend(loc=legend, fontsize=8.0)


def log_classifier_plots(flavor: str, run_id: str, est: Any, X: Any, y: Any, sample_weight: Any,
                         prefix: str = "training_", y_pred: Any = None, proba: Any = None) -> list[str]:
    """Log ``<prefix>confusion_matrix.png`` and, for two classes, ``<prefix>roc_curve.png`` and
    ``<prefix>precision_recall_curve.png`` of a fitted classifier; returns the artifact names logged.

    ``y_pred``/``proba`` are the classifier's predictions on ``X`` when already computed (else predicted here).

    Example:
        >>> log_classifier_plots("sklearn", run_id, clf, X, y, None)  # doctest: +SKIP
        ['training_confusion_matrix.png', 'training_precision_recall_curve.png', 'training_roc_curve.png']
    """
    if y is None or not have_matplotlib():
        return []
    import numpy as np

    from tureen.tracking import fluent

    def draw(name: str, fn: Callable[[Path], None]) -> None:
        try:
            fn(Path(tmp) / f"{prefix}{name}.png")
        except Exception as exc:  # noqa: BLE001 - one plot failing skips that plot (as in MLflow)
            warn_once(flavor, f"could not draw {prefix}{name}.png for {type(est).__name__} "
                              f"({type(exc).__name__}: {exc})", key=f"plot-{name}")

    with tempfile.TemporaryDirectory(prefix="tureen-autolog-plots-") as tmp:
        if y_pred is None:
            y_pred = _try(lambda: est.predict(X))
        draw("confusion_matrix", lambda p: _confusion_matrix(p, est, y, _value(y_pred), sample_weight))
        labels = np.asarray(y)
        if labels.ndim == 1 and np.unique(labels).size == 2:
            scored = _try(lambda: _positive_scores(est, X, proba))
            draw("roc_curve", lambda p: _roc_curve(p, est, y, *_value(scored), sample_weight))
            draw("precision_recall_curve",
                 lambda p: _precision_recall_curve(p, est, y, *_value(scored), sample_weight))
        written = sorted(p.name for p in Path(tmp).iterdir())
        if written:
            fluent._client().log_artifacts(run_id, tmp)
    return written


def _value(result: Any) -> Any:
    if isinstance(result, Exception):
        raise result
    return result


def _try(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - reported by the plot that needed the value
        return exc


# ------------------------------------------------------------------------------------------------
# feature importance (XGBoost, LightGBM)


def feature_importance_png(path: Path, features: list[Any], importance: Any, importance_type: str) -> bool:
    """Draw a horizontal bar chart of feature importance into ``path``; False when matplotlib is missing.

    ``importance`` holds one value per feature, or one row of per-class values per feature (XGBoost's
    ``gblinear`` on several classes): bars are sorted by (summed absolute) magnitude, classes side by side.

    Example:
        >>> feature_importance_png(Path("feature_importance_gain.png"), ["a", "b"], [0.2, 0.8], "gain")  # doctest: +SKIP
        True
    """
    if not have_matplotlib():
        return False
    import numpy as np

    names = np.array([str(f) for f in features])
    values = np.asarray(importance, dtype=float)
    per_class = values.ndim > 1
    if not per_class:
        values = values.reshape(-1, 1)
    order = np.argsort(np.abs(values).sum(axis=1) if per_class else values[:, 0], kind="stable")
    names, values = names[order], values[order]
    n_features, n_classes = values.shape
    height = 4.8 + (0.1 * n_features if n_features > 10 else 0.0) + (0.1 * n_classes if n_classes > 1 else 0.0)
    fig = _new_figure(6.4, height, 100)
    ax = fig.add_subplot()
    rows = np.arange(n_features)
    offsets = np.linspace(-0.5, 0.5, n_classes) / 2 if n_classes > 1 else np.zeros(1)
    bar_height = 0.5 / max(n_classes - 1, 1)
    for k in range(n_classes):
        ax.barh(rows + offsets[k], values[:, k], height=bar_height, align="center",
                label=f"Class {k}" if per_class else None)
    ax.set_yticks(rows, names)
    ax.set_xlabel("Importance")
    ax.set_title(f"Feature Importance ({importance_type})")
    if per_class:
        ax.legend()
    _save(fig, path)
    return True
