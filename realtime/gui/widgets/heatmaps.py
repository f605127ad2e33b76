"""MCF attention maps, one heatmap per grain (joints x parts), with a selector of the res-layer (block)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PyQt6.QtGui import QFont
from PyQt6.QtWidgets import QCheckBox, QLabel, QVBoxLayout, QWidget

from realtime.gui.widgets import style
from realtime.gui.widgets.layer_selector import LayerSelector, titled_row


class AttentionMaps(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.selector = LayerSelector("res-layer whose MCF attention is shown (MCF runs in layers 4-9)")
        self._plot_area = pg.GraphicsLayoutWidget()
        self._plot_area.setBackground(style.BACKGROUND)
        self._plot_area.setMinimumHeight(170)
        self._legend = QLabel()
        self._legend.setWordWrap(True)
        self._legend.setStyleSheet(f"color: {style.MUTED_TEXT};")
        header = titled_row("<b>MCF attention</b> · each row: how one joint attends to the joints, then to the "
                            "parts (blue = least, red = most)", "block", self.selector)
        self.difference = QCheckBox("difference from usual")
        self.difference.setToolTip("each map minus its mean over a dataset split: what is special in this window "
                                   "(blue: less attention than usual, red: more)")
        self.difference.setEnabled(False)
        header.insertWidget(1, self.difference)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self._plot_area, 1)
        layout.addWidget(self._legend)
        self._rows: list[str] = []
        self._columns: list[list[str]] = []
        self._plots: list[tuple[pg.PlotItem, pg.ImageItem]] = []
        self._images: list[np.ndarray] = []
        self._tick_font = QFont(self.font())
        self._tick_font.setPointSizeF(max(7.0, self._tick_font.pointSizeF() * 0.85))

    # --- the maps -------------------------------------------------------------------------------------------------

    def set_axes(self, rows: Sequence[str], columns: Sequence[Sequence[str]]) -> None:
        """Row labels (joints) and, per grain, the names of its columns (joints, then parts)."""
        self._rows = list(rows)
        self._columns = [list(c) for c in columns]
        self._plot_area.clear()
        self._plots = []
        self._images = []
        # Every third joint first, the others as a second level that the axis draws only when they fit, so a
        # short panel shows fewer names instead of overlapping ones.
        ticks_left = [[(i, r) for i, r in enumerate(self._rows) if i % 3 == 0],
                      [(i, r) for i, r in enumerate(self._rows) if i % 3]]
        for grain, names in enumerate(self._columns):
            plot = self._plot_area.addPlot(row=0, col=grain)
            plot.setMenuEnabled(False)
            plot.setMouseEnabled(x=False, y=False)
            plot.hideButtons()
            plot.invertY(True)  # joint 0 at the top, as in a table
            image = pg.ImageItem(axisOrder="row-major")
            image.setColorMap(style.attention_colormap())
            plot.addItem(image)
            prefix = "" if grain == 0 else "P"
            every = 2 if len(names) > 10 else 1  # keep numbers legible in narrow columns
            plot.getAxis("left").setTicks(ticks_left if grain == 0 else [[]])
            plot.getAxis("bottom").setTicks([[(i, f"{prefix}{i}") for i in range(0, len(names), every)],
                                             [(i, "") for i in range(len(names))]])
            plot.getAxis("bottom").setLabel("joint" if grain == 0 else "part")
            for axis in ("left", "bottom"):
                plot.getAxis(axis).setStyle(tickFont=self._tick_font)
            plot.setRange(xRange=(-0.5, len(names) - 0.5), yRange=(-0.5, len(self._rows) - 0.5), padding=0)
            self._plots.append((plot, image))
        layout = self._plot_area.ci.layout
        for grain, names in enumerate(self._columns):
            layout.setColumnStretchFactor(grain, max(3, len(names)))  # cells stay roughly square
        self._legend.setText("parts:  " + "  ·  ".join(f"P{i} {name}" for names in self._columns[1:]
                                                       for i, name in enumerate(names)))

    def set_maps(self, maps: Sequence[np.ndarray], titles: Sequence[str],
                 levels: Sequence[tuple[float, float] | None] = ()) -> None:
        """One (V, V_i) map per grain, coloured over its fixed ``levels`` (blue to red) when given, so a flat map
        looks flat; else from its own minimum to its maximum."""
        self._images = [np.asarray(m) for m in maps]
        for grain, (plot, image) in enumerate(self._plots):
            if grain < len(self._images):
                values = self._images[grain]
                fixed = levels[grain] if grain < len(levels) else None
                low, high = fixed or (float(values.min()), float(values.max()))
                image.setImage(values, levels=(low, max(high, low + 1e-6)))
                # Cell (row, column) centred on (column, row): set after the image, which the scale depends on.
                image.setRect(-0.5, -0.5, values.shape[1], values.shape[0])
                title = titles[grain] if grain < len(titles) else ""
                plot.setTitle(f"{title}<br>{low:.3f} – {high:.3f}", size="8pt", color=style.PANEL_TEXT)
            else:
                image.clear()
                plot.setTitle("")

    def clear_maps(self, message: str = "") -> None:
        self._images = []
        for plot, image in self._plots:
            image.clear()
            plot.setTitle(message, size="9pt", color=style.MUTED_TEXT)

    def images(self) -> list[np.ndarray]:
        """The maps on display, as given."""
        return list(self._images)
