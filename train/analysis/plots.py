"""Figures of evaluation results, drawn with matplotlib's Agg canvas (no display, no pyplot global state)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from stfnet.atomic import atomic_open


def plot_confusion(confusion: np.ndarray, classes: list[str], path: str | Path, title: str = "") -> None:
    """Confusion matrix as a PNG: rows true classes, columns predictions, colour = share of the row."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    k = len(classes)
    side = min(40.0, max(5.0, 0.3 * k + 3))
    fig = Figure(figsize=(side, side), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    rows = confusion.sum(axis=1, keepdims=True)
    share = np.divide(confusion, rows, out=np.zeros(confusion.shape, float), where=rows > 0)
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    size = 8 if k <= 30 else max(2.0, 240 / k)
    ax.set_xticks(range(k), classes, rotation=90, fontsize=size)
    ax.set_yticks(range(k), classes, fontsize=size)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if title:
        ax.set_title(title)
    if k <= 30:  # counts are readable only on small matrices
        for i, j in zip(*np.nonzero(confusion), strict=True):
            ax.text(j, i, str(confusion[i, j]), ha="center", va="center", fontsize=size - 1,
                    color="white" if share[i, j] > 0.5 else "black")
    fig.tight_layout()
    with atomic_open(path) as f:
        fig.savefig(f, format="png")
