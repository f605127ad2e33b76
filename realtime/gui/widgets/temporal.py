"""TDF temporal weights over the current window: one curve (mean over channels, per frame), layer selectable."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtWidgets import QVBoxLayout, QWidget

from realtime.gui.widgets import style
from realtime.gui.widgets.layer_selector import LayerSelector, titled_row


class TemporalWeights(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.selector = LayerSelector("res-layer whose TDF weights are shown (TDF runs in layers 1-9)")
        self._plot = pg.PlotWidget(background=style.BACKGROUND)
        self._plot.setMenuEnabled(False)
        self._plot.setMouseEnabled(x=False, y=False)
        self._plot.hideButtons()
        self._plot.showGrid(x=True, y=True, alpha=0.15)
        self._plot.setLabel("bottom", "seconds before the newest frame")
        self._plot.setLabel("left", "vs. mean")
        self._plot.getAxis("left").enableAutoSIPrefix(False)  # weights are in (0, 1): no "x0.001" scaling
        self._plot.setMinimumHeight(100)
        self._curve = self._plot.plot([], [], pen=pg.mkPen("#f28e2b", width=2.5), symbol="o", symbolSize=6,
                                      symbolBrush="#f28e2b", symbolPen=None)
        header = titled_row("<b>TDF temporal weights</b> · per frame of the window, relative to the window's mean "
                            "(+0.1: weighted 10 % more than the average frame)", "layer", self.selector)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self._plot, 1)
        self._x = np.zeros(0)
        self._y = np.zeros(0)

    def set_curve(self, x: np.ndarray, y: np.ndarray, title: str = "",
                  span: tuple[float, float] | None = None) -> None:
        """The curve; ``span``: a fixed y range (the layer's usual spread), so a flat profile looks flat."""
        self._x, self._y = np.asarray(x), np.asarray(y)
        self._curve.setData(self._x, self._y)
        if span is not None:
            half = max(abs(span[0]), abs(span[1]), float(np.abs(self._y).max(initial=0.0)), 1e-3) * 1.1
            self._plot.setYRange(-half, half, padding=0)
        else:
            low, high = float(self._y.min(initial=0.0)), float(self._y.max(initial=0.0))
            middle, half = (low + high) / 2, max((high - low) / 2 * 1.2, 0.05)  # small changes stay visible
            self._plot.setYRange(middle - half, middle + half, padding=0)
        self._plot.setTitle(title, size="9pt", color=style.PANEL_TEXT)

    def clear_curve(self, message: str = "") -> None:
        self._x, self._y = np.zeros(0), np.zeros(0)
        self._curve.setData([], [])
        self._plot.setTitle(message, size="9pt", color=style.MUTED_TEXT)

    def curve_data(self) -> tuple[np.ndarray, np.ndarray]:
        """The curve on display, as given."""
        return self._x.copy(), self._y.copy()
