"""Controls: source (camera index, video file), model and its "uncertain" threshold, pose backend, confidence, mirror,
and the transport bar.

They only report what the user asked for, as signals; the window decides what happens.
"""

from __future__ import annotations

from PyQt6.QtCore import QSignalBlocker, Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QStyle,
    QWidget,
)

BUNDLED, TASKS = 0, 1  # rows of the pose backend selector


def probability_box(tooltip: str) -> QDoubleSpinBox:
    """A spin box for a probability, 0 to 1 in steps of 0.05."""
    box = QDoubleSpinBox()
    box.setRange(0.0, 1.0)
    box.setSingleStep(0.05)
    box.setDecimals(2)
    box.setToolTip(tooltip)
    return box


def toolbar_row(parent: QWidget, *items: str | QWidget) -> QHBoxLayout:
    """``parent``'s layout: a row of widgets, each string a label before the widget that follows it."""
    layout = QHBoxLayout(parent)
    layout.setContentsMargins(4, 0, 4, 0)
    for item in items:
        layout.addWidget(QLabel(item) if isinstance(item, str) else item)
    return layout


class SourceControls(QWidget):
    camera_requested = pyqtSignal(int)
    video_dialog_requested = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.camera_index = QSpinBox()
        self.camera_index.setRange(0, 16)
        self.camera_index.setToolTip("camera index (0 is the first camera)")
        self.open_camera = QPushButton("Open camera")
        self.open_video = QPushButton("Open video…")
        layout = toolbar_row(self, "Camera", self.camera_index, self.open_camera)
        layout.addSpacing(8)
        layout.addWidget(self.open_video)
        self.open_camera.clicked.connect(lambda: self.camera_requested.emit(self.camera_index.value()))
        self.open_video.clicked.connect(self.video_dialog_requested)


class ModelControls(QWidget):
    """The model in use (shipped models by title, checkpoints opened so far, "Other checkpoint…") and the
    calibrated probability below which a prediction is shown as "uncertain"."""

    model_requested = pyqtSignal(str)  # path of a checkpoint
    checkpoint_dialog_requested = pyqtSignal()
    threshold_changed = pyqtSignal(float)

    def __init__(self, models: list[tuple[str, str]] = (), parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = QComboBox()
        self.model.setToolTip("the action model: switching keeps the camera or video running")
        self.model.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.model.addItem("Other checkpoint…", None)
        for title, path in models:
            self.add_model(title, path)
        self.threshold = probability_box("predictions whose calibrated probability is below this are shown as "
                                         "uncertain")
        toolbar_row(self, "Model", self.model, "Uncertain <", self.threshold)
        self.model.activated.connect(self._on_model)  # user choices only
        self.threshold.valueChanged.connect(self.threshold_changed)

    def add_model(self, title: str, path: str) -> None:
        """List a model (once), above "Other checkpoint…"."""
        if self.model.findData(path) < 0:
            self.model.insertItem(self.model.count() - 1, title, path)
            self.model.setItemData(self.model.count() - 2, path, Qt.ItemDataRole.ToolTipRole)

    def models(self) -> list[str]:
        return [self.model.itemText(i) for i in range(self.model.count() - 1)]

    def set_current(self, title: str, path: str, threshold: float) -> None:
        """Show the model in use and its threshold (after a load, or a cancelled file dialog)."""
        self.add_model(title, path)
        with QSignalBlocker(self.model), QSignalBlocker(self.threshold):
            self.model.setCurrentIndex(self.model.findData(path))
            self.threshold.setValue(threshold)

    def _on_model(self, row: int) -> None:
        path = self.model.itemData(row)
        if path is None:
            self.checkpoint_dialog_requested.emit()
        else:
            self.model_requested.emit(path)


class PoseControls(QWidget):
    bundled_requested = pyqtSignal()
    tasks_dialog_requested = pyqtSignal()  # the user chose "MediaPipe Tasks": ask for the .task file
    confidence_changed = pyqtSignal(float)
    people_changed = pyqtSignal(int)
    mirror_toggled = pyqtSignal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.backend = QComboBox()
        self.backend.addItems(["MediaPipe (bundled)", "MediaPipe Tasks (.task)…"])
        self.backend.setToolTip("pose estimator: the bundled single-person model, or a pose_landmarker .task file")
        self.confidence = probability_box("joints the pose estimator is less confident of count as not seen")
        self.people = QSpinBox()
        self.people.setRange(1, 6)
        self.people.setToolTip("people to follow; click on a person in the video to see their attention maps")
        self.mirror = QCheckBox("Mirror")
        self.mirror.setToolTip("flip the picture left-right (display only; the model sees the true image)")
        toolbar_row(self, "Pose", self.backend, "People", self.people, "Joint confidence ≥", self.confidence,
                    self.mirror)
        self.backend.activated.connect(self._on_backend)  # activated: user choices only, not set_backend()
        self.confidence.valueChanged.connect(self.confidence_changed)
        self.people.valueChanged.connect(self.people_changed)
        self.mirror.toggled.connect(self.mirror_toggled)

    def _on_backend(self, row: int) -> None:
        if row == TASKS:
            self.tasks_dialog_requested.emit()
        else:
            self.bundled_requested.emit()

    def set_backend(self, name: str, tasks: bool) -> None:
        """Show the backend in use (after a change, or after a cancelled file dialog)."""
        self.backend.setCurrentIndex(TASKS if tasks else BUNDLED)
        self.backend.setToolTip(f"pose estimator in use: {name}")

    def set_confidence(self, value: float) -> None:
        with QSignalBlocker(self.confidence):
            self.confidence.setValue(value)

    def set_people(self, count: int) -> None:
        with QSignalBlocker(self.people):
            self.people.setValue(count)


class TransportBar(QWidget):
    play_requested = pyqtSignal()
    pause_requested = pyqtSignal()
    seek_requested = pyqtSignal(int)  # frame index
    loop_toggled = pyqtSignal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.play_pause = QPushButton()
        self.play_pause.setFixedWidth(40)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setTracking(False)  # seek when the handle is released, not on every pixel of a drag
        self.time = QLabel("--:-- / --:--")
        self.loop = QCheckBox("Loop")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addWidget(self.play_pause)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.time)
        layout.addWidget(self.loop)
        self._playing = False
        self._fps = 30.0
        self._count = 0
        self.play_pause.clicked.connect(self._on_play_pause)
        self.slider.valueChanged.connect(self.seek_requested)  # user moves only: set_position blocks signals
        self.loop.toggled.connect(self.loop_toggled)
        self.set_source(live=True, frame_count=None, fps=None)
        self.set_playing(False)

    def _on_play_pause(self) -> None:
        (self.pause_requested if self._playing else self.play_requested).emit()

    def set_source(self, live: bool, frame_count: int | None, fps: float | None) -> None:
        """A camera has no position; a video file gets a slider over its frames."""
        self._fps = fps or 30.0
        self._count = frame_count or 0
        seekable = not live and self._count > 0
        self.slider.setEnabled(seekable)
        self.loop.setEnabled(not live)
        with QSignalBlocker(self.slider):
            self.slider.setRange(0, max(0, self._count - 1))
            self.slider.setValue(0)
        self.time.setText("live" if live else self._clock(0))

    def set_playing(self, playing: bool) -> None:
        self._playing = playing
        icon = QStyle.StandardPixmap.SP_MediaPause if playing else QStyle.StandardPixmap.SP_MediaPlay
        self.play_pause.setIcon(self.style().standardIcon(icon))
        self.play_pause.setToolTip("Pause" if playing else "Play")

    def set_position(self, index: int) -> None:
        if self.slider.isSliderDown():
            return  # the user is dragging: do not pull the handle away
        with QSignalBlocker(self.slider):
            self.slider.setValue(index)
        self.time.setText(self._clock(index))

    def _clock(self, index: int) -> str:
        def mmss(seconds: float) -> str:
            return f"{int(seconds // 60):02d}:{seconds % 60:04.1f}"

        return f"{mmss(index / self._fps)} / {mmss(max(0, self._count - 1) / self._fps)}"
