"""The video frame, scaled to fit, with each person's skeleton; joints coloured by the MCF attention they get."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PyQt6.QtCore import QPointF, QRectF, Qt
from PyQt6.QtGui import QColor, QFont, QImage, QLinearGradient, QPainter, QPaintEvent, QPen, QResizeEvent
from PyQt6.QtWidgets import QLabel, QSizePolicy, QWidget

from realtime.gui.widgets import style
from realtime.recognizer import TrackedPerson

UNSCORED_JOINT = QColor(120, 220, 120)  # joints of people the attention does not describe


class VideoView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 240)
        self._array: np.ndarray | None = None  # keeps the pixels the QImage points into alive
        self._image: QImage | None = None
        self._people: tuple[TrackedPerson, ...] = ()
        self._edges: tuple[tuple[int, int], ...] = ()
        self._attention: np.ndarray | None = None
        self._attention_person: int | None = None
        self._headline = ""
        self._mirrored = False
        self._show_video = True
        self._overlay = QLabel(self)
        self._overlay.setWordWrap(True)
        self._overlay.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._overlay.setStyleSheet("QLabel { background: rgba(20, 20, 24, 215); color: #f2f2f2; padding: 14px;"
                                    " border-radius: 8px; font-size: 14pt; }")
        self._overlay.hide()

    # --- what to show ---------------------------------------------------------------------------------------------

    def set_frame(self, image: np.ndarray, people: Sequence[TrackedPerson], edges: Sequence[tuple[int, int]]) -> None:
        """A BGR image (H, W, 3) and the people on it, keypoints in its pixels, joints linked by ``edges``."""
        self._array = np.ascontiguousarray(image)
        height, width = self._array.shape[:2]
        self._image = QImage(self._array.data, width, height, self._array.strides[0], QImage.Format.Format_BGR888)
        self._people = tuple(people)
        self._edges = tuple(edges)
        self.update()

    def set_attention(self, attention: np.ndarray | None, person_id: int | None, headline: str) -> None:
        """Per-joint attention in [0, 1] for person ``person_id`` (None: plain joints) and a headline to show."""
        self._attention = attention
        self._attention_person = person_id
        self._headline = headline
        self.update()

    def set_mirrored(self, mirrored: bool) -> None:
        self._mirrored = mirrored
        self.update()

    def is_mirrored(self) -> bool:
        return self._mirrored

    def set_show_video(self, show: bool) -> None:
        """False: draw the skeleton on a blank canvas (privacy, or screenshots without the footage)."""
        self._show_video = show
        self.update()

    def set_overlay(self, text: str) -> None:
        self._overlay.setText(text)
        self._overlay.setVisible(bool(text))
        self._place_overlay()

    def _place_overlay(self) -> None:
        """Centre the message, wrapped to at most 85% of the width, at the height the wrapped text needs."""
        if not self._overlay.text():
            return
        widest = self._overlay.fontMetrics().horizontalAdvance(self._overlay.text()) + 40
        width = max(120, min(int(self.width() * 0.85), widest))
        height = self._overlay.heightForWidth(width)
        self._overlay.setGeometry((self.width() - width) // 2, (self.height() - height) // 2, width, height)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._place_overlay()

    def headline(self) -> str:
        return self._headline

    def overlay_text(self) -> str:
        return self._overlay.text() if self._overlay.isVisible() else ""

    def attention(self) -> np.ndarray | None:
        """The per-joint attention colouring the joints, as given."""
        return self._attention

    def clear(self) -> None:
        self._array, self._image, self._people = None, None, ()
        self.set_attention(None, None, "")

    # --- drawing --------------------------------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(style.BACKGROUND))
        if self._image is not None:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            scale, origin = self._fit()
            target = QRectF(origin[0], origin[1], self._image.width() * scale, self._image.height() * scale)
            painter.save()
            if self._mirrored:  # flip about the picture's vertical centre line
                painter.translate(target.center().x() * 2, 0)
                painter.scale(-1, 1)
            if self._show_video:
                painter.drawImage(target, self._image)
            else:
                painter.fillRect(target, QColor(style.CANVAS))
            painter.restore()
            for person in self._people:
                self._draw_person(painter, person, scale, origin)
            self._draw_legend(painter)
        self._draw_headline(painter)
        painter.end()

    def _fit(self) -> tuple[float, tuple[float, float]]:
        """Scale and top-left corner that fit the image in the widget, keeping its aspect ratio."""
        assert self._image is not None
        scale = min(self.width() / self._image.width(), self.height() / self._image.height())
        return scale, ((self.width() - self._image.width() * scale) / 2,
                       (self.height() - self._image.height() * scale) / 2)

    def _to_widget(self, keypoints: np.ndarray, scale: float, origin: tuple[float, float]) -> np.ndarray:
        assert self._image is not None
        xy = keypoints[:, :2].astype(np.float64)
        if self._mirrored:
            xy[:, 0] = self._image.width() - xy[:, 0]
        return xy * scale + np.asarray(origin)

    def _draw_person(self, painter: QPainter, person: TrackedPerson, scale: float,
                     origin: tuple[float, float]) -> None:
        points = self._to_widget(person.keypoints, scale, origin)
        seen = person.scores > 0
        unit = max(1.5, min(self.width(), self.height()) / 240)  # line widths grow with the window
        painter.setPen(QPen(style.BONE, unit * 1.6, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        for child, parent in self._edges:
            if seen[child] and seen[parent]:
                painter.drawLine(QPointF(*points[child]), QPointF(*points[parent]))
        attention = self._attention if person.person_id == self._attention_person else None
        colours = style.attention_colours(attention) if attention is not None else None
        painter.setPen(QPen(QColor(255, 255, 255), max(1.0, unit * 0.6)))
        order = np.argsort(attention) if attention is not None else range(len(points))  # most attended on top
        for j in order:
            if not seen[j]:
                continue
            radius = unit * (2.2 + 1.8 * float(attention[j])) if attention is not None else unit * 2.2
            painter.setBrush(colours[j] if colours is not None else UNSCORED_JOINT)
            painter.drawEllipse(QPointF(*points[j]), radius, radius)

    def _draw_legend(self, painter: QPainter) -> None:
        if self._attention is None:
            return
        font = QFont(self.font())
        font.setPointSizeF(max(8.0, font.pointSizeF() * 0.9))
        painter.setFont(font)
        metrics = painter.fontMetrics()
        caption = "joint colour: MCF attention   least"
        bar_w, height = 70, metrics.height()
        width = metrics.horizontalAdvance(caption) + bar_w + metrics.horizontalAdvance("most") + 28
        box = QRectF(8, self.height() - height - 16, width, height + 8)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 160))
        painter.drawRoundedRect(box, 5, 5)
        painter.setPen(QColor(style.PANEL_TEXT))
        x = box.left() + 8
        painter.drawText(QPointF(x, box.bottom() - 7), caption)
        x += metrics.horizontalAdvance(caption) + 6
        gradient = QLinearGradient(x, 0, x + bar_w, 0)
        for stop, colour in zip(np.linspace(0, 1, 6), style.attention_colours(np.linspace(0, 1, 6)), strict=True):
            gradient.setColorAt(float(stop), colour)
        painter.fillRect(QRectF(x, box.top() + 6, bar_w, height - 4), gradient)
        painter.drawText(QPointF(x + bar_w + 6, box.bottom() - 7), "most")

    def _draw_headline(self, painter: QPainter) -> None:
        if not self._headline:
            return
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        box = QRectF(10, 10, metrics.horizontalAdvance(self._headline) + 24, metrics.height() + 12)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 170))
        painter.drawRoundedRect(box, 6, 6)
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, self._headline)
