"""The evaluation plots, drawn on matplotlib's object API (a Figure on an Agg canvas: no pyplot state, no
GUI backend, one render per file).

Same names and content as MLflow's: ``confusion_matrix``, ``roc_curve_plot``, ``precision_recall_curve_plot``,
``lift_curve_plot``, ``calibration_curve_plot``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

#: 6x4 inches like MLflow's plots; a lower resolution than its 175 dpi keeps files small and quick to write
DPI = 120
SIZE = (6.0, 4.0)


def _figure(size: tuple[float, float] = SIZE, right: float = 0.96) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=DPI)
    FigureCanvasAgg(fig)
    # fixed margins instead of bbox_inches="tight": one render per file instead of two plus a layout pass
    fig.subplots_adjust(left=0.12, right=right, bottom=0.13, top=0.92)
    return fig


def save(fig: Any, path: Path) -> None:
    fig.savefig(path, format="png", dpi=DPI)


def _rc() -> Any:
    import matplotlib

    return matplotlib.rc_context({"font.size": 8, "axes.titlesize": 9})


def confusion_matrix(matrix: Any, labels: Sequence[Any]) -> Any:
    """The row-normalized confusion matrix (each true class sums to 1)."""
    import numpy as np

    with _rc():
        fig = _figure()
        ax = fig.add_subplot()
        im = ax.imshow(matrix, cmap="Blues", vmin=0.0, vmax=max(1e-12, float(np.nanmax(matrix))))
        fig.colorbar(im, ax=ax)
        n = len(labels)
        ax.set_xticks(range(n), [str(v) for v in labels])
        ax.set_yticks(range(n), [str(v) for v in labels])
        size = min(8, max(3, int(50 / max(n, 1))))
        threshold = float(np.nanmax(matrix)) / 2 if matrix.size else 0.0
        for i in range(n):
            for j in range(n):
                v = matrix[i, j]
                ax.text(j, i, f"{v:.2g}", ha="center", va="center", fontsize=size,
                        color="white" if v > threshold else "black")
        ax.set_xlabel("Predicted label")
        ax.set_ylabel("True label")
        ax.set_title("Normalized confusion matrix")
    return fig


def curves(series: Sequence[tuple[str, Any, Any]], *, kind: str, pos_label: Any = None) -> Any:
    """ROC (``kind="roc"``) or precision-recall (``kind="pr"``) step curves, one line per series."""
    with _rc():
        fig = _figure(right=0.96 if len(series) == 1 else 0.66)
        ax = fig.add_subplot()
        for label, x, y in series:
            ax.plot(x, y, drawstyle="steps-post", linewidth=1, label=label)
        suffix = f" (Positive label: {pos_label})" if pos_label is not None and len(series) == 1 else ""
        if kind == "roc":
            ax.plot([0, 1], [0, 1], color="gray", alpha=0.3, linestyle="dashed")
            ax.set_xlabel("False Positive Rate" + suffix)
            ax.set_ylabel("True Positive Rate" + suffix)
            ax.set_title("ROC curve")
        else:
            ax.plot([0, 1], [1, 0], color="gray", alpha=0.3, linestyle="dashed")
            ax.set_xlabel("Recall" + suffix)
            ax.set_ylabel("Precision" + suffix)
            ax.set_title("Precision recall curve")
        if len(series) == 1:
            ax.legend(loc="best")
        else:
            ax.legend(loc="center left", bbox_to_anchor=(1, 0.5))
    return fig


def lift_curve(y_true: Any, y_probs: Any, classes: Sequence[Any], pos_label: Any) -> Any:
    """Lift of each of the two classes against the share of samples taken (highest scores first)."""
    import numpy as np

    y_true = np.asarray(y_true)
    with _rc():
        fig = _figure()
        ax = fig.add_subplot()
        n = len(y_true)
        share = np.arange(1, n + 1) / n
        for index, cls in enumerate(classes):
            hits = (y_true == cls)[np.argsort(y_probs[:, index], kind="stable")[::-1]]
            total = hits.sum()
            gains = np.cumsum(hits) / total if total else np.zeros(n)
            mark = " (positive)" if cls == pos_label else ""
            ax.plot(share, gains / share, lw=3, label=f"Class {cls}{mark}")
        ax.plot([0, 1], [1, 1], "k--", lw=2, label="Baseline")
        ax.set_title("Lift Curve")
        ax.set_xlabel("Percentage of sample")
        ax.set_ylabel("Lift")
        ax.grid(True)
        ax.legend(loc="lower right")
    return fig


def calibration_curve(y_true: Any, y_probs: Any, labels: Sequence[Any], pos_label: Any, *, n_bins: int = 10,
                      name: str | None = None) -> Any:
    """Fraction of positives against mean predicted probability per bin (one line per class if more than 2)."""
    import numpy as np
    from sklearn.calibration import calibration_curve as sk_curve

    y_true = np.asarray(y_true)
    with _rc():
        fig = _figure()
        ax = fig.add_subplot()
        if y_probs.shape[1] == 2:
            index = list(labels).index(pos_label) if pos_label in list(labels) else 1
            frac, mean = sk_curve(y_true == pos_label, y_probs[:, index], n_bins=n_bins)
            ax.plot(mean, frac, marker="s", label=name or "Classifier")
            ax.set_xlabel(f"Mean predicted probability (Positive class: {pos_label})")
            ax.set_ylabel(f"Fraction of positives (Positive class: {pos_label})")
        else:
            for index, cls in enumerate(labels):
                frac, mean = sk_curve(y_true == cls, y_probs[:, index], n_bins=n_bins)
                ax.plot(mean, frac, marker="o", markersize=3, label=f"Class {cls}")
            ax.set_xlabel("Mean Predicted Probability")
            ax.set_ylabel("Fraction of True Positives")
        ax.plot([0, 1], [0, 1], linestyle="dotted", color="black", label="Perfect Calibration")
        ax.set_title(f"{name or 'Classifier'} Calibration")
        ax.legend(loc="best")
    return fig
