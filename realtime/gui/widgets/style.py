"""Colours and fonts shared by the widgets, so the video, the bars and the maps speak one visual language."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtGui import QColor

ATTENTION_COLORMAP = "turbo"  # low = blue, high = red, on the video's joints and in the MCF maps alike
BACKGROUND = "#1b1d21"  # behind the video and the plots
CANVAS = "#2a2d33"  # where the picture would be, when the video is hidden
PANEL_TEXT = "#d8dadf"
MUTED_TEXT = "#8a8f98"
BONE = QColor(235, 235, 235, 200)
# Ten distinct hues (Tableau 10) for the first labels in the bars and the history strip; a label keeps its colour.
LABEL_COLOURS = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
                 "#9c755f", "#bab0ac")
GOLDEN = 0.6180339887  # hue step for labels beyond ten: consecutive labels land far apart on the colour wheel
STATE_COLOUR = "#3a3d44"  # "warming up" and "no person" in the history strip


def attention_colormap() -> pg.ColorMap:
    return pg.colormap.get(ATTENTION_COLORMAP)


def attention_colours(values: np.ndarray) -> list[QColor]:
    """A colour per value in [0, 1]."""
    return attention_colormap().map(np.clip(values, 0.0, 1.0), mode="qcolor")


def label_colour(index: int | None) -> QColor:
    """The colour of label ``index`` (None: a state such as "warming up"); distinct for any number of labels."""
    if index is None:
        return QColor(STATE_COLOUR)
    if index < len(LABEL_COLOURS):
        return QColor(LABEL_COLOURS[index])
    k = index - len(LABEL_COLOURS)
    hue = (0.07 + k * GOLDEN) % 1.0
    return QColor.fromHsvF(hue, (0.55, 0.75, 0.4)[k % 3], (0.85, 0.7, 0.95)[(k // 3) % 3])
