"""The top-k labels as bars with probabilities, and a strip of the labels of the last seconds."""

from __future__ import annotations

from collections.abc import Sequence

from PyQt6.QtCore import QRectF, QSize, Qt
from PyQt6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPaintEvent
from PyQt6.QtWidgets import QSizePolicy, QWidget

from realtime.gui.widgets import style

ROW_HEIGHT = 26


class TopKBars(QWidget):
    """One row per label: name, a bar as long as its probability, the probability in percent."""

    def __init__(self, rows: int = 5, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows = rows
        self._items: list[tuple[str, float]] = []
        self._colours: list[QColor] = []
        self._caption = ""
        self._greyed = False
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(self.sizeHint().height())

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(320, ROW_HEIGHT * self._rows + 8)

    def set_items(self, items: Sequence[tuple[str, float]], colours: Sequence[QColor], caption: str = "",
                  greyed: bool = False) -> None:
        """``(label, probability)`` best first, a colour per label, and a caption shown when there are none;
        ``greyed``: the model is not sure ("uncertain"), so the bars are grey and the caption heads them."""
        self._items = list(items)[: self._rows]
        self._colours = [QColor(style.MUTED_TEXT)] * len(colours) if greyed else list(colours)
        self._caption = caption
        self._greyed = greyed
        self.update()

    def greyed(self) -> bool:
        return self._greyed

    def items(self) -> list[tuple[str, float]]:
        return list(self._items)

    def caption(self) -> str:
        return self._caption

    def _name_width(self, metrics_width: int) -> int:
        return min(max(90, metrics_width + 12), self.width() // 2)

    def _fonts(self) -> list[QFont]:
        """The font of each row: the best label in bold."""
        bold = QFont(self.font())
        bold.setBold(True)
        return [bold if row == 0 else QFont(self.font()) for row in range(len(self._items))]

    def _label_widths(self) -> list[int]:
        return [QFontMetrics(font).horizontalAdvance(label)
                for font, (label, _) in zip(self._fonts(), self._items, strict=True)]

    def clipped(self) -> list[str]:
        """Labels that do not fit the room their column has at the current width (they are drawn elided)."""
        widths = self._label_widths()
        room = self._name_width(max(widths, default=0)) - 8
        return [label for (label, _), width in zip(self._items, widths, strict=True) if width > room]

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if not self._items:
            painter.setPen(QColor(style.MUTED_TEXT))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self._caption)
            return
        fonts = self._fonts()
        name_w = self._name_width(max(self._label_widths()))
        value_w = painter.fontMetrics().horizontalAdvance("100.0%") + 10
        bar_w = max(10, self.width() - name_w - value_w - 8)
        for row, (label, probability) in enumerate(self._items):
            y = 4 + row * ROW_HEIGHT
            painter.setFont(fonts[row])
            painter.setPen(QColor(style.MUTED_TEXT if self._greyed else style.PANEL_TEXT))
            text = painter.fontMetrics().elidedText(label, Qt.TextElideMode.ElideRight, name_w - 8)
            painter.drawText(QRectF(4, y, name_w - 8, ROW_HEIGHT - 4),
                             Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, text)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(255, 255, 255, 22))
            painter.drawRoundedRect(QRectF(name_w, y + 3, bar_w, ROW_HEIGHT - 10), 3, 3)
            colour = self._colours[row] if row < len(self._colours) else QColor(style.LABEL_COLOURS[0])
            painter.setBrush(colour)
            painter.drawRoundedRect(QRectF(name_w, y + 3, max(2.0, bar_w * probability), ROW_HEIGHT - 10), 3, 3)
            painter.setPen(QColor(style.PANEL_TEXT))
            painter.setFont(fonts[row])
            painter.drawText(QRectF(name_w + bar_w + 4, y, value_w, ROW_HEIGHT - 4),
                             Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, f"{probability:.1%}")


class HistoryStrip(QWidget):
    """Coloured segments of past labels over the last seconds of the stream, newest at the right."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._segments: list[tuple[float, float, str, QColor]] = []
        self._span = (0.0, 1.0)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(46)

    def set_segments(self, segments: Sequence[tuple[float, float, str, QColor]], span: tuple[float, float]) -> None:
        """``(start, end, text, colour)`` in stream seconds, drawn over ``span`` = (oldest, newest)."""
        self._segments = list(segments)
        self._span = span
        self.update()

    def segments(self) -> list[tuple[float, float, str, QColor]]:
        return list(self._segments)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        bar = QRectF(2, 2, self.width() - 4, 24)
        painter.fillRect(bar, QColor(255, 255, 255, 15))
        start, end = self._span
        length = max(end - start, 1e-6)
        for seg_start, seg_end, text, colour in self._segments:
            left = bar.left() + (max(seg_start, start) - start) / length * bar.width()
            right = bar.left() + (min(seg_end, end) - start) / length * bar.width()
            rect = QRectF(left, bar.top(), max(1.0, right - left), bar.height())
            painter.fillRect(rect, colour)
            if painter.fontMetrics().horizontalAdvance(text) + 8 < rect.width():
                painter.setPen(QColor(255, 255, 255))
                painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
        painter.setPen(QColor(style.MUTED_TEXT))
        axis = QRectF(2, bar.bottom() + 2, self.width() - 4, self.height() - bar.bottom() - 2)
        painter.drawText(axis, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, f"−{length:.0f} s")
        painter.drawText(axis, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop, "now")
