"""The main window: layout, menus, and every signal connection between the controls, the worker and the widgets.

The window runs no pipeline. It forwards the user's requests to the capture worker as queued signals and hands
the worker's results to the widgets, through present.py. All connections are made in ``_connect()``.

Layout: the video (with its transport bar) in the middle; the prediction, the attention maps and the temporal
weights in dock panels the user can resize, move, hide (View menu) and float. The window opens at a size that
fits the screen (from 1280 x 720 up), and ``layout_problems()`` says what would not fit.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from PyQt6.QtCore import QBuffer, QByteArray, QIODevice, QRect, Qt, QThread, QTimer, pyqtSignal
from PyQt6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence
from PyQt6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from realtime.captions import people_captions, state_text
from realtime.gui import present
from realtime.gui.teach_controller import TeachController
from realtime.gui.timeline import Timeline
from realtime.gui.widgets import style
from realtime.gui.widgets.controls import ModelControls, PoseControls, SourceControls, TransportBar
from realtime.gui.widgets.heatmaps import AttentionMaps
from realtime.gui.widgets.labels import HistoryStrip, TopKBars
from realtime.gui.widgets.teach_panel import TeachPanel
from realtime.gui.widgets.temporal import TemporalWeights
from realtime.gui.widgets.video_view import VideoView
from realtime.gui.worker import BUNDLED_POSE, FrameUpdate, ModelInfo, PipelineWorker, PredictionUpdate, SourceInfo
from realtime.pose import MIN_VISIBILITY
from realtime.recognizer import Prediction
from realtime.teach import custom_models
from stfnet.atomic import atomic_open
from stfnet.shipped import model_title, shipped_models

NOTICE_ORDER = ("source", "stall", "pose", "model")  # overlay lines, most urgent first
STALL_SECONDS = 2.0  # a live source silent this long gets a notice
SHUTDOWN_WAIT_MS = 10_000  # closing waits this long for the capture thread (a hung camera takes ~2 s)
HISTORY_SECONDS = 10.0
LARGEST_START_SIZE = (1680, 1050)  # the window opens at 92 % of the screen, but no larger than this

class MainWindow(QMainWindow):
    # Requests to the capture worker, queued to its thread (connected in _connect).
    camera_requested = pyqtSignal(int)
    video_requested = pyqtSignal(str)
    checkpoint_requested = pyqtSignal(str)
    uncertain_below_requested = pyqtSignal(float)
    pose_model_requested = pyqtSignal(str)
    max_people_requested = pyqtSignal(int)
    focus_requested = pyqtSignal(int)  # -1: the oldest person in view
    confidence_requested = pyqtSignal(float)
    play_requested = pyqtSignal()
    pause_requested = pyqtSignal()
    seek_requested = pyqtSignal(int)
    loop_requested = pyqtSignal(bool)
    shutdown_requested = pyqtSignal()

    def __init__(self, worker: PipelineWorker, capture_thread: QThread) -> None:
        super().__init__()
        self.worker = worker
        self._capture_thread = capture_thread
        self.setWindowTitle("STF-Net Live")
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks)
        # Widgets: display only.
        self.video = VideoView()
        self.transport = TransportBar()
        self.source_controls = SourceControls()
        self.model_controls = ModelControls([(m.title, str(m.path)) for m in shipped_models()]
                                            + [(model_title(p), str(p)) for p in custom_models()])
        self.teach_panel = TeachPanel()
        self.teach = TeachController(self.teach_panel, lambda: self._model)
        self.pose_controls = PoseControls()
        self.bars = TopKBars()
        self.history_strip = HistoryStrip()
        self.maps = AttentionMaps()
        self.temporal = TemporalWeights()
        # What is on screen, for re-drawing after a selector changes and for the export.
        self._session = -1
        self._source: SourceInfo | None = None
        self._model: ModelInfo | None = None
        self._prediction: Prediction | None = None
        self._playing = False
        self._pose_name = BUNDLED_POSE
        self._notices: dict[str, str] = {}
        self._timeline = Timeline()
        self._history = present.LabelHistory(HISTORY_SECONDS)
        self._display_rate = present.RateMeter()
        self._last_frame = time.monotonic()
        self._pose_ms: float | None = None
        self._latency_ms: float | None = None
        self._shut_down = False
        self._initial_threshold: float | None = None
        self._preferred: dict[str, int] = {}  # the model's measured views: MCF block and TDF layer to open on
        self._ui_timer = QTimer(self)  # status bar refresh and the stall watchdog
        self._ui_timer.setInterval(500)
        self._build_layout()
        self._fit_to_screen()
        self._build_menus()
        self._build_status_bar()
        self._connect()
        self._show_prediction()
        self._ui_timer.start()

    # --- assembly -------------------------------------------------------------------------------------------------

    def _build_layout(self) -> None:
        # Two toolbars: on a narrow screen the second goes below the first (_fit_to_screen) instead of hiding
        # controls behind an overflow button.
        self.toolbars = []
        for name, parts in (("Source and model", (self.source_controls, self.model_controls)),
                            ("Pose", (self.pose_controls,))):
            toolbar = QToolBar(name)
            self.toolbars.append(toolbar)
            toolbar.setObjectName(name)
            toolbar.setMovable(False)
            for i, part in enumerate(parts):
                if i:
                    toolbar.addSeparator()
                toolbar.addWidget(part)
            self.addToolBar(toolbar)

        player = QWidget()
        player_layout = QVBoxLayout(player)
        player_layout.setContentsMargins(0, 0, 0, 0)
        player_layout.addWidget(self.video, 1)
        player_layout.addWidget(self.transport)
        self.setCentralWidget(player)
        # The right-hand panels reach down to the status bar; the temporal curve sits under the video only.
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)

        prediction = QWidget()
        box = QVBoxLayout(prediction)
        box.addWidget(self.bars)
        history_title = QLabel(f"history · last {HISTORY_SECONDS:.0f} s")
        history_title.setStyleSheet(f"color: {style.MUTED_TEXT};")
        box.addWidget(history_title)
        box.addWidget(self.history_strip)
        box.addStretch(1)
        self.temporal.setContentsMargins(6, 0, 6, 0)
        self.maps.setContentsMargins(6, 0, 6, 0)
        self.docks = {
            "prediction": self._dock("Prediction", prediction, Qt.DockWidgetArea.RightDockWidgetArea),
            "attention": self._dock("MCF attention", self.maps, Qt.DockWidgetArea.RightDockWidgetArea),
            "temporal": self._dock("TDF temporal weights", self.temporal, Qt.DockWidgetArea.BottomDockWidgetArea),
            "teach": self._dock("Teach", self.teach_panel, Qt.DockWidgetArea.RightDockWidgetArea),
        }
        self.tabifyDockWidget(self.docks["attention"], self.docks["teach"])
        self.docks["attention"].raise_()

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(area, dock)
        return dock

    def _fit_to_screen(self) -> None:
        """Open at 92 % of the screen's free area (capped), panels sized for it; minimum sizes keep every panel
        readable down to 1280 x 720."""
        screen = QGuiApplication.primaryScreen()
        area = screen.availableGeometry() if screen is not None else QRect(0, 0, 1280, 720)
        width = min(int(area.width() * 0.92), LARGEST_START_SIZE[0])
        height = min(int(area.height() * 0.92), LARGEST_START_SIZE[1])
        self.resize(width, height)
        if sum(t.sizeHint().width() for t in self.toolbars) > width - 16:
            self.insertToolBarBreak(self.toolbars[1])
        right = self.docks["prediction"], self.docks["attention"]
        self.resizeDocks(list(right), [int(width * 0.36)] * 2, Qt.Orientation.Horizontal)
        bars_height = self.docks["prediction"].widget().sizeHint().height()
        self.resizeDocks(list(right), [bars_height, height], Qt.Orientation.Vertical)
        self.resizeDocks([self.docks["temporal"]], [int(height * 0.22)], Qt.Orientation.Vertical)

    def _build_menus(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        self.action_open_video = file_menu.addAction("Open &video…")
        self.action_open_video.setShortcut(QKeySequence.StandardKey.Open)
        self.action_open_camera = file_menu.addAction("Open &camera")
        self.action_open_checkpoint = file_menu.addAction("Open c&heckpoint…")
        self.action_open_pose = file_menu.addAction("Open &pose model (.task)…")
        self.action_bundled_pose = file_menu.addAction("Use &bundled pose model")
        file_menu.addSeparator()
        self.action_export = file_menu.addAction("&Export timeline (CSV/JSON)…")
        self.action_export.setShortcut(QKeySequence("Ctrl+E"))
        self.action_screenshot = file_menu.addAction("Save &screenshot (PNG)…")
        self.action_screenshot.setShortcut(QKeySequence("Ctrl+Shift+S"))
        file_menu.addSeparator()
        self.action_quit = file_menu.addAction("&Quit")
        self.action_quit.setShortcut(QKeySequence.StandardKey.Quit)
        view_menu = menu.addMenu("&View")
        self.action_mirror = QAction("&Mirror", self, checkable=True)
        view_menu.addAction(self.action_mirror)
        self.action_show_video = QAction("Show &video (off: skeleton only)", self, checkable=True, checked=True)
        view_menu.addAction(self.action_show_video)
        self.action_colour_attention = QAction("Colour joints by MCF &attention (off: by class evidence)", self,
                                               checkable=True)
        view_menu.addAction(self.action_colour_attention)
        view_menu.addSeparator()
        for dock in self.docks.values():  # show or hide each panel
            view_menu.addAction(dock.toggleViewAction())
        playback = menu.addMenu("&Playback")
        self.action_play_pause = playback.addAction("Play / &pause")
        self.action_play_pause.setShortcut(QKeySequence("Ctrl+P"))
        self.action_loop = QAction("&Loop", self, checkable=True)
        playback.addAction(self.action_loop)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self._fps_label = QLabel()
        self._pose_label = QLabel()
        self._latency_label = QLabel()
        self._device_label = QLabel()
        self._model_label = QLabel("model: none")
        for label in (self._fps_label, self._pose_label, self._latency_label, self._device_label, self._model_label):
            label.setStyleSheet("padding: 0 8px;")
            bar.addPermanentWidget(label)
        self._refresh_status()

    def _connect(self) -> None:
        """Every connection in one place: requests to the worker, results to the widgets, controls to actions."""
        worker = self.worker
        # Requests: the worker lives on the capture thread, so these are queued and run there in order.
        self.camera_requested.connect(worker.open_camera)
        self.video_requested.connect(worker.open_video)
        self.checkpoint_requested.connect(worker.load_checkpoint)
        self.uncertain_below_requested.connect(worker.set_uncertain_below)
        self.pose_model_requested.connect(worker.set_pose_model)
        self.max_people_requested.connect(worker.set_max_people)
        self.focus_requested.connect(worker.focus_person)
        self.teach.recording_requested.connect(worker.start_recording)
        self.teach.stop_recording_requested.connect(worker.stop_recording)
        worker.recording_finished.connect(self.teach.recording_finished)
        self.teach.model_trained.connect(self.open_checkpoint)
        self.confidence_requested.connect(worker.set_min_confidence)
        self.play_requested.connect(worker.play)
        self.pause_requested.connect(worker.pause)
        self.seek_requested.connect(worker.seek)
        self.loop_requested.connect(worker.set_loop)
        self.shutdown_requested.connect(worker.shutdown)
        # Direct: the GUI thread is waiting in shutdown(), so a queued quit would only run after the wait.
        worker.finished.connect(self._capture_thread.quit, Qt.ConnectionType.DirectConnection)
        # Results, queued to this (GUI) thread.
        worker.frame_ready.connect(self._on_frame)
        worker.prediction_ready.connect(self._on_prediction)
        worker.source_opened.connect(self._on_source_opened)
        worker.playing_changed.connect(self._on_playing)
        worker.model_loaded.connect(self._on_model_loaded)
        worker.pose_ready.connect(self._on_pose_ready)
        worker.notice.connect(self._on_notice)
        worker.status.connect(self._show_status)
        # Controls and menus.
        self.source_controls.camera_requested.connect(self.open_camera)
        self.source_controls.video_dialog_requested.connect(self._choose_video)
        self.model_controls.model_requested.connect(self.open_checkpoint)
        self.model_controls.checkpoint_dialog_requested.connect(self._choose_checkpoint)
        self.model_controls.threshold_changed.connect(self.uncertain_below_requested)
        self.pose_controls.bundled_requested.connect(lambda: self.use_pose_model(None))
        self.pose_controls.tasks_dialog_requested.connect(self._choose_pose_model)
        self.pose_controls.confidence_changed.connect(self.confidence_requested)
        self.pose_controls.people_changed.connect(self.max_people_requested)
        self.video.person_clicked.connect(self.focus_requested)
        self.pose_controls.mirror_toggled.connect(self.video.set_mirrored)
        self.pose_controls.mirror_toggled.connect(self.action_mirror.setChecked)
        self.action_mirror.toggled.connect(self.pose_controls.mirror.setChecked)
        self.action_show_video.toggled.connect(self.video.set_show_video)
        self.transport.play_requested.connect(self.play_requested)
        self.transport.pause_requested.connect(self.pause_requested)
        self.transport.seek_requested.connect(self.seek_requested)
        self.transport.loop_toggled.connect(self.loop_requested)
        self.transport.loop_toggled.connect(self.action_loop.setChecked)
        self.action_loop.toggled.connect(self.transport.loop.setChecked)
        self.action_play_pause.triggered.connect(self.transport.play_pause.click)
        self.action_open_video.triggered.connect(self._choose_video)
        self.action_open_camera.triggered.connect(
            lambda: self.open_camera(self.source_controls.camera_index.value()))
        self.action_open_checkpoint.triggered.connect(self._choose_checkpoint)
        self.action_open_pose.triggered.connect(self._choose_pose_model)
        self.action_bundled_pose.triggered.connect(lambda: self.use_pose_model(None))
        self.action_export.triggered.connect(self._choose_export)
        self.action_screenshot.triggered.connect(self._choose_screenshot)
        self.action_quit.triggered.connect(self.close)
        self.maps.selector.layer_changed.connect(self._show_maps)
        self.maps.difference.toggled.connect(self._show_maps)
        self.action_colour_attention.toggled.connect(self._show_prediction)
        self.temporal.selector.layer_changed.connect(self._show_curve)
        self._ui_timer.timeout.connect(self._on_ui_timer)

    # --- what the user (or the command line) asks for -------------------------------------------------------------

    def start(self, camera: int = 0, video: str | None = None, checkpoint: str | None = None,
              pose_model: str | None = None, confidence: float = MIN_VISIBILITY,
              uncertain_below: float | None = None, max_people: int = 1) -> None:
        """Start the capture thread, then: pose backend for ``max_people``, model (a shipped model's name or a
        checkpoint file; None: the default) with its "uncertain" threshold (None: the model's own), camera or
        video."""
        self._initial_threshold = uncertain_below
        self._capture_thread.start()
        self.pose_controls.set_confidence(confidence)
        self.confidence_requested.emit(confidence)
        self.pose_controls.set_people(max_people)
        self.max_people_requested.emit(max_people)
        self.use_pose_model(pose_model)
        self.open_checkpoint(checkpoint or "")
        if video:
            self.open_video(video)
        else:
            self.source_controls.camera_index.setValue(camera)
            self.open_camera(camera)

    def open_camera(self, index: int) -> None:
        self.worker.interrupt()  # a hung camera must not hold the request up
        self.camera_requested.emit(index)

    def open_video(self, path: str) -> None:
        self.worker.interrupt()
        self.video_requested.emit(path)

    def open_checkpoint(self, path: str) -> None:
        self.checkpoint_requested.emit(path)

    def use_pose_model(self, path: str | None) -> None:
        """None: MediaPipe's bundled model; else a MediaPipe Tasks ``.task`` file."""
        self.pose_model_requested.emit(path or "")

    def export_timeline(self, path: Path) -> bool:
        """Write the predictions shown for the current source (CSV if ``path`` ends in .csv, else JSON)."""
        model = self._model
        try:
            self._timeline.write(path, model.path if model else None, model.labels if model else (),
                                 model.every_ms if model else 0.0, model.window_seconds if model else None)
        except OSError as exc:
            self._show_status(f"Could not write {path}: {exc.strerror or exc}")
            return False
        self._show_status(f"Timeline of {len(self._timeline)} predictions written to {path}")
        return True

    def save_screenshot(self, path: Path) -> bool:
        """A PNG of the whole window; the file appears whole or not at all."""
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        try:
            if not self.grab().save(buffer, "PNG"):
                raise OSError("Qt could not encode the PNG")
            with atomic_open(path) as f:
                f.write(bytes(data))
        except OSError as exc:
            self._show_status(f"Could not save the screenshot {path}: {exc}")
            return False
        self._show_status(f"Screenshot saved to {path}")
        return True

    def shutdown(self) -> None:
        """Stop the capture thread (and with it the model thread and the camera); safe to call twice."""
        if self._shut_down:
            return
        self._shut_down = True
        self._ui_timer.stop()
        self.teach.shutdown()
        if not self._capture_thread.isRunning():
            return
        self.worker.interrupt()
        self.shutdown_requested.emit()  # queued behind the request the worker is running, if any
        if not self._capture_thread.wait(SHUTDOWN_WAIT_MS):
            print("warning: the capture thread did not stop in time", file=sys.stderr)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        self.shutdown()
        super().closeEvent(event)

    # --- file dialogs ---------------------------------------------------------------------------------------------

    def _choose_video(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open video", "", "Videos (*.mp4 *.avi *.mov *.mkv *.m4v);;"
                                                                      "All files (*)")
        if path:
            self.open_video(path)

    def _choose_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open checkpoint", "", "Checkpoints (*.pt *.pth);;All files (*)")
        if path:
            self.open_checkpoint(path)
        elif self._model is not None:  # cancelled: show the model still in use
            self.model_controls.set_current(self._model.title, str(self._model.path), self._model.min_confidence)

    def _choose_pose_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "MediaPipe Tasks pose model", "", "MediaPipe Tasks (*.task)")
        if path:
            self.use_pose_model(path)
        else:  # cancelled: show the backend still in use
            self.pose_controls.set_backend(self._pose_name, self._pose_name != BUNDLED_POSE)

    def _choose_export(self) -> None:
        path, chosen = QFileDialog.getSaveFileName(self, "Export prediction timeline", "timeline.json",
                                                   "JSON (*.json);;CSV (*.csv)")
        if path:
            target = Path(path)
            if target.suffix.lower() not in (".json", ".csv"):
                target = target.with_suffix(".csv" if "csv" in chosen.lower() else ".json")
            self.export_timeline(target)

    def _choose_screenshot(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save screenshot", "stfnet-live.png", "PNG images (*.png)")
        if path:
            self.save_screenshot(Path(path) if path.lower().endswith(".png") else Path(path + ".png"))

    # --- results from the worker ----------------------------------------------------------------------------------

    def _on_source_opened(self, info: SourceInfo) -> None:
        self._session = info.session
        self._source = info
        self._prediction = None
        self._timeline.reset(info.name, info.fps)
        self._history.clear()
        self._last_frame = time.monotonic()
        self.transport.set_source(info.live, info.frame_count, info.fps)
        self.video.clear()
        self._show_prediction()
        self._update_title()

    def _on_frame(self, update: FrameUpdate) -> None:
        try:
            if update.session != self._session:
                return  # a frame of the previous source, still in the queue
            self.video.set_frame(update.image, update.pose.people, update.layout.edges)
            if update.position is not None:
                self.transport.set_position(update.position)
            now = time.monotonic()
            self._display_rate.tick(now)
            self._last_frame = now
            self._timeline.frames += 1
            if update.pose.pose_ms > 0:
                self._pose_ms = update.pose.pose_ms
            if self._notices.get("stall"):
                self._on_notice("stall", "")
        finally:
            self.worker.frame_shown()  # even for stale frames: the worker waits for this before sending more

    def _on_prediction(self, update: PredictionUpdate) -> None:
        # Stale: of another source, or of a model this window has not been told about yet (they cross threads).
        if update.session != self._session or self._model is None or update.model != self._model.serial:
            return
        prediction = update.prediction
        self._timeline.add(prediction)
        self._history.add(prediction, self._model.labels)
        self._prediction = prediction
        if prediction.state == "ok":
            self._latency_ms = prediction.latency_ms
        self._show_prediction()

    def _on_model_loaded(self, info: ModelInfo) -> None:
        self._model = info
        self.model_controls.set_current(info.title, str(info.path), info.min_confidence)
        self.teach.refresh()
        self._open_on_measured_views(info.views)
        if self._initial_threshold is not None:  # the command line's threshold, for the first model
            self.model_controls.threshold.setValue(self._initial_threshold)  # emits: the worker applies it
            self._initial_threshold = None
        self._prediction = None
        self._history.clear()
        self.maps.set_axes(present.joint_ticks(info.layout), present.part_names(info.layout))
        self._show_prediction()
        self._update_title()
        self._refresh_status()

    def _open_on_measured_views(self, views: dict) -> None:
        """Start on the views measured to tell this model's classes apart (the selectors stay the user's)."""
        self.maps.difference.setEnabled(bool(views.get("means")))
        self._preferred = {family: int(views[family]["view"].split("/")[1])
                           for family in ("mcf", "tdf") if family in views}
        joints = views.get("joints", {}).get("view", "joints/evidence").split("/")[1]
        self.action_colour_attention.setChecked(joints == "attention")
        for family, selector in (("mcf", self.maps.selector), ("tdf", self.temporal.selector)):
            if family in self._preferred:  # a later model: the layers are offered already
                selector.select_layer(self._preferred[family])

    def _joint_source(self) -> str:
        return "attention" if self.action_colour_attention.isChecked() else "evidence"

    def _on_pose_ready(self, name: str) -> None:
        self._pose_name = name
        self.pose_controls.set_backend(name, name != BUNDLED_POSE)

    def _on_playing(self, playing: bool) -> None:
        self._playing = playing
        self._last_frame = time.monotonic()  # the stall watchdog counts from now
        self.transport.set_playing(playing)

    def _on_notice(self, topic: str, text: str) -> None:
        self._notices[topic] = text
        self.video.set_overlay("\n\n".join(self._notices[t] for t in NOTICE_ORDER if self._notices.get(t)))
        if text:
            self._show_status(text)
        if topic == "pose" and text:  # the change failed: show the backend still in use
            self.pose_controls.set_backend(self._pose_name, self._pose_name != BUNDLED_POSE)
        if topic == "model" and text and self._model is None:
            self._model_label.setText("model: none")

    def _show_status(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    def _on_ui_timer(self) -> None:
        self._refresh_status()
        source = self._source
        silent = time.monotonic() - self._last_frame
        if source is not None and source.live and self._playing and silent > STALL_SECONDS:
            self._on_notice("stall", f"{source.name.capitalize()} has sent no frame for {silent:.0f} s — check "
                                     f"its connection, or choose another camera or a video file")

    # --- drawing what is on screen --------------------------------------------------------------------------------

    def _show_prediction(self) -> None:
        prediction, model = self._prediction, self._model
        if model is None:
            self.bars.set_items([], [], "no model loaded")
            self.history_strip.set_segments([], self._history.span)
            self.video.set_attention(None, None, "")
            self.maps.clear_maps()
            self.temporal.clear_curve()
            return
        labels = model.labels
        if prediction is None:
            self.bars.set_items([], [], "waiting for frames")
        else:
            colours = [style.label_colour(labels.index(label) if label in labels else None)
                       for label, _ in prediction.top_k]
            self.bars.set_items(prediction.top_k, colours, state_text(prediction.state) if prediction.state != "ok"
                                else "", greyed=prediction.state == "uncertain")
        self.history_strip.set_segments([(s.start, s.end, s.text, style.label_colour(s.label_index))
                                         for s in self._history.segments()], self._history.span)
        person = prediction.person_id if prediction is not None else None
        source = self._joint_source()
        self.video.set_attention(present.joint_colouring(prediction, source), person, present.headline(prediction),
                                 present.JOINT_SOURCES[source])
        by_person = {p.person_id: p for p in prediction.people} if prediction is not None else {}
        self.video.set_captions({pid: (text, style.label_colour(labels.index(by_person[pid].label)
                                                                if by_person[pid].label in labels else None))
                                 for pid, text in people_captions(prediction).items()})
        if prediction is not None and prediction.state in ("ok", "uncertain"):
            for family, selector, layers in (("mcf", self.maps.selector, prediction.mcf_maps),
                                             ("tdf", self.temporal.selector, prediction.tdf_weights)):
                if selector.set_layers(sorted(layers)) and self._preferred.get(family) in layers:
                    selector.select_layer(self._preferred[family])  # a new model: open on its measured view
        self._show_maps()
        self._show_curve()

    def _show_maps(self) -> None:
        prediction, block = self._prediction, self.maps.selector.current_layer()
        if prediction is None or self._model is None or block is None or block not in prediction.mcf_maps:
            self.maps.clear_maps(present.headline(prediction) or "waiting for a prediction")
            return
        layout, views = self._model.layout, self._model.views
        difference = self.maps.difference.isChecked() and bool(views.get("means"))
        titles = [present.grain_title(layout, g, w) for g, w in enumerate(present.grain_weights(prediction, block))]
        maps = present.block_maps(prediction, block, views["means"] if difference else None)
        self.maps.set_maps(maps, titles, [present.map_levels(views, block, g, difference) for g in range(len(maps))])

    def _show_curve(self) -> None:
        prediction, layer = self._prediction, self.temporal.selector.current_layer()
        if prediction is None or layer is None or layer not in prediction.tdf_weights:
            self.temporal.clear_curve(present.headline(prediction) or "waiting for a prediction")
            return
        x, y = present.temporal_curve(prediction, layer)
        channels = prediction.tdf_weights[layer].shape[0]
        span = self._model.views.get("ranges", {}).get(f"tdf/{layer}") if self._model is not None else None
        self.temporal.set_curve(x, y, f"layer {layer} · {channels} channels · {y.size} frames", span)

    def _refresh_status(self) -> None:
        now = time.monotonic()
        self._fps_label.setText(f"display {self._display_rate.rate(now):.1f} fps")
        self._pose_label.setText(f"pose {self._pose_ms:.0f} ms" if self._pose_ms is not None else "pose -")
        self._latency_label.setText(f"inference {self._latency_ms:.0f} ms" if self._latency_ms is not None
                                    else "inference -")
        model = self._model
        self._device_label.setText(f"device {model.device}" if model else "device -")
        if model is not None:
            self._model_label.setText(f"model {model.title} ({len(model.labels)} classes, {model.layout.name})")

    def _update_title(self) -> None:
        parts = ["STF-Net Live"]
        if self._source is not None:
            parts.append(self._source.name)
        if self._model is not None:
            parts.append(self._model.title)
        self.setWindowTitle(" — ".join(parts))

    # --- for tests and scripts ------------------------------------------------------------------------------------

    def layout_problems(self) -> list[str]:
        """What a person would find cut off at the window's current size: a panel or control partly outside the
        window or smaller than it needs, labels that do not fit their column. Empty when all is well."""
        parts = {"video": self.video, "transport bar": self.transport, "source controls": self.source_controls,
                 "model controls": self.model_controls, "pose controls": self.pose_controls,
                 **{f"{name} panel": dock.widget() for name, dock in self.docks.items()
                    if not dock.widget().visibleRegion().isEmpty()}}  # not hidden, nor a tab behind another
        problems = []
        window = self.rect()
        for name, widget in parts.items():
            if not widget.isVisible():
                problems.append(f"the {name} is not visible")
                continue
            area = QRect(widget.mapTo(self, widget.rect().topLeft()), widget.size())
            if not window.contains(area):
                problems.append(f"the {name} extends past the window")
            need = widget.minimumSizeHint()
            if widget.width() < need.width() or widget.height() < need.height():
                problems.append(f"the {name} is {widget.width()} x {widget.height()} px, it needs "
                                f"{need.width()} x {need.height()}")
        clipped = self.bars.clipped()
        if clipped:
            problems.append(f"labels cut short in the prediction panel: {', '.join(clipped)}")
        return problems

    @property
    def prediction(self) -> Prediction | None:
        """The prediction on screen."""
        return self._prediction

    @property
    def notices(self) -> dict[str, str]:
        return {topic: text for topic, text in self._notices.items() if text}

    def set_mirrored(self, mirrored: bool) -> None:
        self.pose_controls.mirror.setChecked(mirrored)  # as if the user ticked it
