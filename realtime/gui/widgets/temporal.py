"""TDF temporal weights over the current window: one curve (mean over channels, per frame), layer selectable."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from realtime.gui.widgets import style


class TemporalWeights(QWidget):
    layer_changed = pyqtSignal(int)  # the user chose another res-layer

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layer = QComboBox()
        self._layer.setToolTip("res-layer whose TDF weights are shown (TDF runs in layers 1-9)")
        self._layer.currentIndexChanged.connect(self._on_layer_index)  # internal: combo index -> layer number
        self._plot = pg.PlotWidget(background=style.BACKGROUND)
        self._plot.setMenuEnabled(False)
        self._plot.setMouseEnabled(x=False, y=False)
        self._plot.hideButtons()
        self._plot.showGrid(x=True, y=True, alpha=0.15)
        self._plot.setLabel("bottom", "seconds before the newest frame")
        self._plot.setLabel("left", "weight")
        self._plot.getAxis("left").enableAutoSIPrefix(False)  # weights are in (0, 1): no "x0.001" scaling
        self._plot.setMinimumHeight(150)
        self._curve = self._plot.plot([], [], pen=pg.mkPen("#f28e2b", width=2.5), symbol="o", symbolSize=6,
                                      symbolBrush="#f28e2b", symbolPen=None)
        header = QHBoxLayout()
        title = QLabel("<b>TDF temporal weights</b> · mean over channels, per frame of the window")
        title.setWordWrap(True)
        header.addWidget(title, 1)
        header.addWidget(QLabel("layer"))
        header.addWidget(self._layer)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self._plot, 1)
        self._x = np.zeros(0)
        self._y = np.zeros(0)

    def set_layers(self, layers: Sequence[int]) -> None:
        """Offer these res-layers; keep the current one when still offered, else choose the last."""
        layers = list(layers)
        if layers == [int(self._layer.itemData(i)) for i in range(self._layer.count())]:
            return
        current = self.current_layer()
        self._layer.blockSignals(True)  # refilling is not the user choosing
        self._layer.clear()
        for layer in layers:
            self._layer.addItem(str(layer), layer)
        if layers:
            self._layer.setCurrentIndex(layers.index(current) if current in layers else len(layers) - 1)
        self._layer.blockSignals(False)

    def current_layer(self) -> int | None:
        data = self._layer.currentData()
        return None if data is None else int(data)

    def select_layer(self, layer: int) -> None:
        """Choose a layer as the user would (emits layer_changed)."""
        index = self._layer.findData(layer)
        if index >= 0:
            self._layer.setCurrentIndex(index)

    def _on_layer_index(self, index: int) -> None:
        if index >= 0:
            self.layer_changed.emit(int(self._layer.itemData(index)))

    def set_curve(self, x: np.ndarray, y: np.ndarray, title: str = "") -> None:
        self._x, self._y = np.asarray(x), np.asarray(y)
        self._curve.setData(self._x, self._y)
        low, high = float(self._y.min(initial=0.5)), float(self._y.max(initial=0.5))
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
