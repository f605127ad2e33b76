"""The Teach panel: record examples of your own actions, look at them, and train a model on them.

Display only: it shows what the controller (``realtime/gui/teach_controller.py``) gives it and reports what the
user asks for as signals.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PyQt6.QtCore import QPointF, QRectF, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QColor, QPainter, QPaintEvent, QPen
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from realtime.gui.widgets import style
from realtime.teach import SampleInfo


class SkeletonPlayer(QWidget):
    """Plays a recorded sample back as a moving skeleton, at its own frame rate."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(120, 110)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._frames: np.ndarray | None = None  # (T, V, 2)
        self._scores: np.ndarray | None = None  # (T, V)
        self._edges: tuple[tuple[int, int], ...] = ()
        self._index = 0
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._next)

    def play(self, keypoints: np.ndarray, scores: np.ndarray, fps: float, edges: Sequence[tuple[int, int]]) -> None:
        self._frames, self._scores, self._edges = keypoints[..., :2], scores, tuple(edges)
        self._index = 0
        self._timer.start(max(10, round(1000 / max(fps, 1.0))))
        self.update()

    def playing(self) -> bool:
        return self._timer.isActive()

    def _next(self) -> None:
        self._index += 1
        if self._frames is None or self._index >= len(self._frames):
            self._timer.stop()
            self._index = max(0, self._index - 1)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(style.CANVAS))
        if self._frames is None or self._scores is None:
            painter.setPen(QColor(style.MUTED_TEXT))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "select a sample and press Play")
            return
        seen_all = self._scores > 0
        if not seen_all.any():
            return
        points = self._frames[seen_all]
        low, high = points.min(axis=0), points.max(axis=0)  # one box for the whole sample: it moves inside it
        scale = 0.9 * min(self.width() / max(high[0] - low[0], 1e-6), self.height() / max(high[1] - low[1], 1e-6))
        offset = np.array([self.width(), self.height()]) / 2 - scale * (low + high) / 2
        xy = self._frames[self._index] * scale + offset
        seen = seen_all[self._index]
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(style.BONE, 2))
        for child, parent in self._edges:
            if seen[child] and seen[parent]:
                painter.drawLine(QPointF(*xy[child]), QPointF(*xy[parent]))
        painter.setBrush(QColor("#59a14f"))
        for j in np.flatnonzero(seen):
            painter.drawEllipse(QPointF(*xy[j]), 3, 3)
        painter.setPen(QColor(style.MUTED_TEXT))
        painter.drawText(QRectF(4, 2, self.width() - 8, 16), Qt.AlignmentFlag.AlignRight,
                         f"{self._index + 1}/{len(self._frames)}")


class TeachPanel(QWidget):
    record_requested = pyqtSignal(str, float)  # action, seconds (after a countdown)
    stop_requested = pyqtSignal()
    mark_in_requested = pyqtSignal(str)  # action: record from now (a playing video), until mark out
    mark_out_requested = pyqtSignal()
    play_requested = pyqtSignal(str)  # sample name
    rename_requested = pyqtSignal(str, str)  # sample name, new action
    delete_requested = pyqtSignal(str)  # sample name
    train_requested = pyqtSignal(str)  # model name
    cancel_requested = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model_name = QLineEdit("my-actions")
        self.model_name.setToolTip("your model's name: its samples and weights live in a folder of that name")
        self.action = QLineEdit()
        self.action.setPlaceholderText("action name, e.g. wave")
        self.seconds = QDoubleSpinBox()
        self.seconds.setRange(1.0, 30.0)
        self.seconds.setValue(3.0)
        self.seconds.setSuffix(" s")
        self.seconds.setToolTip("length of a recording")
        self.record = QPushButton("Record")
        self.record.setToolTip("a 3 s countdown, then the person in view is recorded")
        self.stop = QPushButton("Stop")
        self.mark_in = QPushButton("Mark in")
        self.mark_in.setToolTip("on a playing video: record from this moment until Mark out")
        self.mark_out = QPushButton("Mark out")
        self.status = QLabel("Type an action's name, then Record a few examples of it (5 or more work well).")
        self.status.setWordWrap(True)
        self.status.setStyleSheet(f"color: {style.MUTED_TEXT};")
        self.samples = QTableWidget(0, 2)
        self.samples.setHorizontalHeaderLabels(["action", "seconds"])
        self.samples.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.samples.verticalHeader().hide()
        self.samples.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.samples.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.samples.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.samples.setMinimumHeight(70)
        self.play = QPushButton("Play")
        self.rename = QPushButton("Rename…")
        self.delete = QPushButton("Delete")
        self.player = SkeletonPlayer()
        self.train = QPushButton("Train")
        self.train.setToolTip("fine-tune the current model on these samples, in the background")
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.cancel = QPushButton("Cancel")
        self.train_status = QLabel("")
        self.train_status.setWordWrap(True)
        self.train_status.setStyleSheet(f"color: {style.MUTED_TEXT};")

        grid = QGridLayout()
        grid.addWidget(QLabel("Model"), 0, 0)
        grid.addWidget(self.model_name, 0, 1, 1, 3)
        grid.addWidget(QLabel("Action"), 1, 0)
        grid.addWidget(self.action, 1, 1, 1, 2)
        grid.addWidget(self.seconds, 1, 3)
        recording = QHBoxLayout()
        for button in (self.record, self.stop, self.mark_in, self.mark_out):
            recording.addWidget(button)
        sample_buttons = QVBoxLayout()
        for button in (self.play, self.rename, self.delete):
            sample_buttons.addWidget(button)
        sample_buttons.addStretch(1)
        listing = QHBoxLayout()
        listing.addWidget(self.samples, 3)
        listing.addLayout(sample_buttons)
        listing.addWidget(self.player, 2)
        training = QHBoxLayout()
        training.addWidget(self.train)
        training.addWidget(self.progress, 1)
        training.addWidget(self.cancel)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addLayout(recording)
        layout.addWidget(self.status)
        layout.addLayout(listing, 1)
        layout.addLayout(training)
        layout.addWidget(self.train_status)

        self.record.clicked.connect(lambda: self.record_requested.emit(self.action.text(), self.seconds.value()))
        self.stop.clicked.connect(self.stop_requested)
        self.mark_in.clicked.connect(lambda: self.mark_in_requested.emit(self.action.text()))
        self.mark_out.clicked.connect(self.mark_out_requested)
        self.play.clicked.connect(lambda: self._with_selected(self.play_requested.emit))
        self.rename.clicked.connect(lambda: self._with_selected(self._ask_rename))
        self.delete.clicked.connect(lambda: self._with_selected(self.delete_requested.emit))
        self.train.clicked.connect(lambda: self.train_requested.emit(self.model_name.text()))
        self.cancel.clicked.connect(self.cancel_requested)
        self.set_recording(False)
        self.set_training(False)

    # --- what the controller shows --------------------------------------------------------------------------------

    def set_samples(self, samples: Sequence[SampleInfo]) -> None:
        self.samples.setRowCount(len(samples))
        for row, sample in enumerate(samples):
            label = QTableWidgetItem(sample.label)
            label.setData(Qt.ItemDataRole.UserRole, sample.name)
            self.samples.setItem(row, 0, label)
            self.samples.setItem(row, 1, QTableWidgetItem(f"{sample.seconds:.1f}"))
        has = bool(samples)
        for button in (self.play, self.rename, self.delete):
            button.setEnabled(has)

    def sample_names(self) -> list[str]:
        return [self.samples.item(r, 0).data(Qt.ItemDataRole.UserRole) for r in range(self.samples.rowCount())]

    def set_status(self, text: str) -> None:
        self.status.setText(text)

    def set_recording(self, recording: bool) -> None:
        self.record.setEnabled(not recording)
        self.mark_in.setEnabled(not recording)
        self.stop.setEnabled(recording)
        self.mark_out.setEnabled(recording)

    def set_training(self, training: bool, percent: int = 0, text: str | None = None) -> None:
        self.train.setEnabled(not training)
        self.cancel.setEnabled(training)
        self.progress.setValue(percent)
        if text is not None:
            self.train_status.setText(text)

    # --- user actions ------------------------------------------------------------------------------------------

    def _selected(self) -> str | None:
        rows = self.samples.selectionModel().selectedRows()
        if not rows and self.samples.rowCount():
            return self.samples.item(self.samples.rowCount() - 1, 0).data(Qt.ItemDataRole.UserRole)  # the newest
        return self.samples.item(rows[0].row(), 0).data(Qt.ItemDataRole.UserRole) if rows else None

    def _with_selected(self, action) -> None:
        name = self._selected()
        if name is not None:
            action(name)

    def _ask_rename(self, name: str) -> None:
        row = self.sample_names().index(name)
        current = self.samples.item(row, 0).text()
        text, ok = QInputDialog.getText(self, "Rename sample", "Action of this sample:", text=current)
        if ok and text.strip() and text.strip() != current:
            self.rename_requested.emit(name, text.strip())
