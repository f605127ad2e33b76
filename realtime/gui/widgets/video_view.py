"""The video frame, scaled to fit, with each person's skeleton (clipped to the picture) and, with several people,
each one's id and label above them; joints of the person in focus coloured by the attention they get. Clicking on
a person asks to focus on them (``person_clicked``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PyQt6.QtCore import QPointF, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import (
    QColor,
    QFont,
    QImage,
    QLinearGradient,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QResizeEvent,
)
from PyQt6.QtWidgets import QLabel, QSizePolicy, QWidget

from realtime.gui.widgets import style
from realtime.recognizer import TrackedPerson

UNSCORED_JOINT = QColor(120, 220, 120)  # joints of people the attention does not describe


class VideoView(QWidget):
    person_clicked = pyqtSignal(int)  # track id of the person under the click

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 180)
        self._array: np.ndarray | None = None  # keeps the pixels the QImage points into alive
        self._image: QImage | None = None
        self._people: tuple[TrackedPerson, ...] = ()
        self._edges: tuple[tuple[int, int], ...] = ()
        self._attention: np.ndarray | None = None
        self._attention_person: int | None = None
        self._headline = ""
        self._captions: dict[int, tuple[str, QColor]] = {}
        self._colour_source = "class evidence"  # what the joint colours show, for the legend
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

    def set_attention(self, attention: np.ndarray | None, person_id: int | None, headline: str,
                      source: str = "class evidence") -> None:
        """Per-joint values in [0, 1] for person ``person_id`` (None: plain joints), what they are (``source``,
        for the legend) and a headline to show."""
        self._attention = attention
        self._colour_source = source
        self._attention_person = person_id
        self._headline = headline
        self.update()

    def set_captions(self, captions: dict[int, tuple[str, QColor]]) -> None:
        """Text and colour drawn above each person, by track id (shown when there are several people)."""
        self._captions = dict(captions)
        self.update()

    def captions(self) -> dict[int, str]:
        return {pid: text for pid, (text, _) in self._captions.items()}

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

    def person_at(self, x: float, y: float) -> int | None:
        """Track id of the person whose skeleton's box (a little enlarged) holds widget point (x, y)."""
        if self._image is None:
            return None
        scale, origin = self._fit()
        best, best_area = None, np.inf
        for person in self._people:
            seen = self._to_widget(person.keypoints, scale, origin)[person.scores > 0]
            if len(seen) < 2:
                continue
            low, high = seen.min(axis=0), seen.max(axis=0)
            margin = 0.15 * (high - low) + 8
            if np.all(low - margin <= (x, y)) and np.all((x, y) <= high + margin):
                area = float(np.prod(high - low))
                if area < best_area:  # the smallest box wins: the person in front of a larger one
                    best, best_area = person.person_id, area
        return best

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        person = self.person_at(event.position().x(), event.position().y())
        if person is not None:
            self.person_clicked.emit(person)
        super().mousePressEvent(event)

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
            painter.save()
            painter.setClipRect(target)  # a skeleton never runs past the picture
            for person in self._people:
                self._draw_person(painter, person, scale, origin)
            if len(self._people) > 1:
                for person in self._people:
                    self._draw_caption(painter, person, scale, origin)
            painter.restore()
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

    def _draw_caption(self, painter: QPainter, person: TrackedPerson, scale: float,
                      origin: tuple[float, float]) -> None:
        text, colour = self._captions.get(person.person_id, (f"#{person.person_id}", QColor(style.STATE_COLOUR)))
        seen = self._to_widget(person.keypoints, scale, origin)[person.scores > 0]
        if len(seen) == 0:
            return
        font = QFont(self.font())
        font.setBold(person.person_id == self._attention_person)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        width, height = metrics.horizontalAdvance(text) + 12, metrics.height() + 6
        top = seen[np.argmin(seen[:, 1])]
        box = QRectF(top[0] - width / 2, top[1] - height - 10, width, height)
        box.moveLeft(min(max(box.left(), 2.0), self.width() - width - 2.0))
        box.moveTop(max(box.top(), 2.0))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 180))
        painter.drawRoundedRect(box, 4, 4)
        painter.fillRect(QRectF(box.left(), box.bottom() - 3, box.width(), 3), colour)
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(box.adjusted(0, 0, 0, -2), Qt.AlignmentFlag.AlignCenter, text)

    def _draw_legend(self, painter: QPainter) -> None:
        if self._attention is None:
            return
        font = QFont(self.font())
        font.setPointSizeF(max(8.0, font.pointSizeF() * 0.9))
        painter.setFont(font)
        metrics = painter.fontMetrics()
        caption = f"joint colour: {self._colour_source}   least"
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
        text = metrics.elidedText(self._headline, Qt.TextElideMode.ElideRight, max(40, self.width() - 44))
        box = QRectF(10, 10, metrics.horizontalAdvance(text) + 24, metrics.height() + 12)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 170))
        painter.drawRoundedRect(box, 6, 6)
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
