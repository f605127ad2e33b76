"""A choice among the model's res-layers, shared by the MCF heatmaps and the TDF curve."""

from __future__ import annotations

from collections.abc import Sequence

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget


class LayerSelector(QComboBox):
    layer_changed = pyqtSignal(int)  # the user (or select_layer) chose another res-layer

    def __init__(self, tooltip: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setToolTip(tooltip)
        self.currentIndexChanged.connect(self._on_index)  # combo index -> layer number

    def set_layers(self, layers: Sequence[int]) -> bool:
        """Offer these res-layers; keep the current one when still offered, else choose the last (deepest).
        True when the offer changed."""
        layers = list(layers)
        if layers == [int(self.itemData(i)) for i in range(self.count())]:
            return False
        current = self.current_layer()
        self.blockSignals(True)  # refilling is not the user choosing
        self.clear()
        for layer in layers:
            self.addItem(str(layer), layer)
        if layers:
            self.setCurrentIndex(layers.index(current) if current in layers else len(layers) - 1)
        self.blockSignals(False)
        return True

    def current_layer(self) -> int | None:
        data = self.currentData()
        return None if data is None else int(data)

    def select_layer(self, layer: int) -> None:
        """Choose a layer as the user would (emits layer_changed)."""
        index = self.findData(layer)
        if index >= 0:
            self.setCurrentIndex(index)

    def _on_index(self, index: int) -> None:
        if index >= 0:
            self.layer_changed.emit(int(self.itemData(index)))


def titled_row(title: str, caption: str, selector: LayerSelector) -> QHBoxLayout:
    """A panel's header: a wrapping title (rich text) on the left, ``caption`` and the selector on the right."""
    row = QHBoxLayout()
    label = QLabel(title)
    label.setWordWrap(True)
    row.addWidget(label, 1)
    row.addWidget(QLabel(caption))
    row.addWidget(selector)
    return row
