"""The capture worker: owns the source, the pose estimator and the Engine, and lives on its own QThread.

    worker = PipelineWorker(WorkerConfig())
    worker.moveToThread(thread)
    # requests arrive as queued signals connected to the slots below (all in window.MainWindow._connect);
    # results leave as signals: frame_ready(FrameUpdate), prediction_ready(PredictionUpdate), notice(topic, text)

Each timer tick handles one frame: a camera's newest (its grabber drops what nobody read, so a slow tick skips
frames instead of lagging) or the video frame due now (frames already late are skipped, so playback keeps real
time when pose is slow). Between ticks this thread's event loop runs the queued requests. The Engine's model
thread classifies the newest window and emits prediction_ready from there.

A frame is emitted only once the GUI has shown the previous one (frame_shown()): a slow GUI sees fewer frames,
never a queue of old ones. Problems the user can act on become notice(topic, sentence), never exceptions: an
exception escaping a PyQt slot would abort the application.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PyQt6.QtCore import QObject, Qt, QTimer, pyqtSignal, pyqtSlot

from realtime.engine import Engine, EngineConfig, PoseResult
from realtime.gui.app import DEFAULT_EVERY_MS
from realtime.gui.player import SeekableVideo
from realtime.pose import Person, PoseEstimator, check_feedable, create_estimator, to_layout
from realtime.recognizer import Prediction, Recognizer, TrackedPerson
from realtime.sources import CameraSource, Frame, Source
from realtime.teach import SkeletonRecorder
from stfnet.errors import SourceError, UserError
from stfnet.layouts import OPENPOSE18, Layout
from stfnet.shipped import model_title, resolve_model

DISPLAY_LAYOUT = OPENPOSE18  # skeletons are drawn in the live layout while no model is loaded
BUNDLED_POSE = "MediaPipe (bundled)"
MODEL_HINT = "open a checkpoint (File > Open checkpoint)"
POSE_HINT = "choose a pose backend in the toolbar"


@dataclass(frozen=True)
class WorkerConfig:
    """How the worker builds what it owns (tests pass fakes), and how often it classifies."""

    camera: Callable[[int], Source] = CameraSource
    # (model, max_people) -> estimator; model None: MediaPipe's bundled models, else a .task file
    pose: Callable[[Path | None, int], PoseEstimator] = create_estimator
    recognizer: Callable[[Path], Recognizer] = Recognizer.from_file
    every_ms: float = DEFAULT_EVERY_MS  # at most one prediction per this many ms


@dataclass(frozen=True)
class SourceInfo:
    session: int  # increases with every source opened; updates of older sessions are stale
    name: str  # "camera 0" or the video's file name
    live: bool
    fps: float | None
    frame_count: int | None


@dataclass(frozen=True)
class FrameUpdate:
    session: int
    image: np.ndarray  # BGR (H, W, 3), a copy the receiver owns
    pose: PoseResult  # tracked people in ``layout``, pixel coordinates of ``image``
    layout: Layout
    position: int | None  # frame index in a video file (for the seek slider); None for cameras


@dataclass(frozen=True)
class PredictionUpdate:
    session: int
    prediction: Prediction
    model: int  # which loaded model made it (ModelInfo.serial): the GUI shows none before it knows that model


@dataclass(frozen=True)
class ModelInfo:
    serial: int  # counts the models loaded so far
    path: Path
    title: str  # what to call it on screen: a shipped model's card title, else its run folder or file name
    min_confidence: float  # its "uncertain" threshold
    labels: tuple[str, ...]
    layout: Layout
    device: str
    window_seconds: float
    every_ms: float
    views: dict  # the attention views measured for it (train.analysis.views); {} when none were


def no_camera_message(index: int) -> str:
    where = "" if index == 0 else f" at index {index}"
    return f"No camera found{where} — open a video file (File > Open video)"


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:]


class PipelineWorker(QObject):
    frame_ready = pyqtSignal(object)  # FrameUpdate
    prediction_ready = pyqtSignal(object)  # PredictionUpdate, emitted on the Engine's model thread
    source_opened = pyqtSignal(object)  # SourceInfo
    playing_changed = pyqtSignal(bool)
    model_loaded = pyqtSignal(object)  # ModelInfo
    pose_ready = pyqtSignal(str)  # name of the pose backend in use
    notice = pyqtSignal(str, str)  # topic ("source", "pose", "model"), sentence for the user; "" clears the topic
    status = pyqtSignal(str)  # a passing message for the status bar
    recording_finished = pyqtSignal(object)  # RecordedSkeleton of the person in focus (empty: nobody was seen)
    finished = pyqtSignal()  # shutdown() has released everything

    def __init__(self, config: WorkerConfig | None = None) -> None:
        super().__init__()
        self.config = config or WorkerConfig()
        self._timer = QTimer(self)  # a child, so it moves to the capture thread with the worker
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)
        self._lock = threading.Lock()  # guards _source and _closer, which interrupt() uses from the GUI thread
        self._source: Source | None = None
        self._closer: threading.Thread | None = None
        self._camera_frames: Iterator[Frame] | None = None
        self._video: SeekableVideo | None = None
        self._session = 0
        self._source_name = ""
        self._playing = False
        self._ended = False
        self._loop = False
        self._clock = (0.0, 0)  # (wall clock, video position) that video playback is paced from
        self._pose: PoseEstimator | None = None
        self._pose_name = ""
        self._pose_path: Path | None = None
        self._max_people = 1
        self._min_confidence: float | None = None
        self._recognizer: Recognizer | None = None
        self._model_serial = 0
        self._checkpoint: Path | None = None
        self._engine: Engine | None = None
        self._focus: int | None = None
        self._recorder: SkeletonRecorder | None = None
        self._frame_in_flight = threading.Event()

    # --- called from any thread ----------------------------------------------------------------------------------

    def frame_shown(self) -> None:
        """The GUI has drawn the last frame_ready: the next frame may be sent."""
        self._frame_in_flight.clear()

    def interrupt(self) -> None:
        """Wake the capture thread if a camera blocks it, so that the requests queued behind run now.

        Closing a camera waits for its grabber thread (seconds, when the camera hangs), so that happens on a
        helper thread, which the capture thread joins when it lets go of the source.
        """
        with self._lock:
            source = self._source
            if source is None or not source.live or self._closer is not None:
                return
            self._closer = threading.Thread(target=source.close, name="camera-close", daemon=True)
            self._closer.start()

    # --- requests (slots, run on the capture thread) --------------------------------------------------------------

    @pyqtSlot(int)
    def set_max_people(self, count: int) -> None:
        """Follow up to ``count`` people: the pose backend in use is rebuilt for that many."""
        if count != self._max_people:
            self._max_people = count
            if self._pose is not None:
                self.set_pose_model(str(self._pose_path or ""))

    @pyqtSlot(str)
    def set_pose_model(self, path: str) -> None:
        """Use the bundled MediaPipe models ("") or a MediaPipe Tasks ``.task`` file."""
        model = Path(path) if path else None
        name = BUNDLED_POSE if model is None else f"MediaPipe Tasks ({model.name})"
        self.status.emit(f"Loading pose model {name}…")
        try:
            pose = self.config.pose(model, self._max_people)
        except UserError as exc:
            self._pose_failed(_sentence(str(exc)))
            return
        except (RuntimeError, OSError, ValueError) as exc:  # MediaPipe's own failures
            self._pose_failed(f"Pose model {name} could not be loaded ({exc})")
            return
        if self._recognizer is not None:
            try:
                check_feedable(pose.layout, pose.coords, self._recognizer.layout, self._recognizer.norm.coords)
            except UserError as exc:
                pose.close()
                self._pose_failed(f"{name} cannot feed the model: {exc}")
                return
        old, self._pose, self._pose_name, self._pose_path = self._pose, pose, name, model
        self._apply_confidence()
        self._rebuild_engine()
        if old is not None:
            old.close()
        self.notice.emit("pose", "")
        self.pose_ready.emit(name)
        self.status.emit(f"Pose backend: {name}")

    @pyqtSlot(float)
    def set_min_confidence(self, value: float) -> None:
        """Joints the pose backend is less sure of than ``value`` count as not seen."""
        self._min_confidence = value
        self._apply_confidence()

    @pyqtSlot(str)
    def load_checkpoint(self, path: str) -> None:
        """Load a shipped model by name or a checkpoint file ("": the default model); classify with it from now on.

        The source keeps running: only the engine (its windows and the model thread) is rebuilt."""
        try:
            target = resolve_model(path or None)
        except UserError as exc:
            self._model_failed(f"No model: {exc}")
            return
        self.status.emit(f"Loading checkpoint {target.name}…")
        try:
            recognizer = self.config.recognizer(target)
            if self._pose is not None:
                check_feedable(self._pose.layout, self._pose.coords, recognizer.layout, recognizer.norm.coords)
        except UserError as exc:
            self._model_failed(f"Cannot use checkpoint {target.name}: {exc}")
            return
        except Exception as exc:  # noqa: BLE001 - a foreign or damaged file can make torch raise anything
            self._model_failed(f"Cannot use checkpoint {target.name} ({type(exc).__name__}: {exc})")
            return
        self._recognizer, self._checkpoint = recognizer, target
        self._model_serial += 1  # before the engine: its predictions carry the new model's number
        self._rebuild_engine()
        self.notice.emit("model", "")
        title = model_title(target)
        self.model_loaded.emit(ModelInfo(self._model_serial, target, title, recognizer.min_confidence,
                                         recognizer.labels, recognizer.layout, str(recognizer.device),
                                         recognizer.window_seconds, self.config.every_ms,
                                         recognizer.checkpoint.extra.get("views") or {}))
        self.status.emit(f"Model {title} loaded")

    @pyqtSlot(float)
    def start_recording(self, max_seconds: float) -> None:
        """Record the person in focus for ``max_seconds`` of stream time (0: until stop_recording())."""
        self._recorder = SkeletonRecorder(max_seconds or None)

    @pyqtSlot()
    def stop_recording(self) -> None:
        if self._recorder is not None:
            recorder, self._recorder = self._recorder, None
            self.recording_finished.emit(recorder.result())

    @pyqtSlot(int)
    def focus_person(self, person_id: int) -> None:
        """Follow ``person_id``'s prediction and attention maps (-1: the oldest person in view)."""
        self._focus = None if person_id < 0 else person_id
        if self._engine is not None:
            self._engine.set_focus(self._focus)

    @pyqtSlot(float)
    def set_uncertain_below(self, value: float) -> None:
        """Predictions whose calibrated probability is below ``value`` become "uncertain" from now on."""
        if self._recognizer is not None:
            self._recognizer.set_min_confidence(value)

    @pyqtSlot(int)
    def open_camera(self, index: int) -> None:
        self._close_source()
        try:
            source = self.config.camera(index)
        except SourceError:
            self.notice.emit("source", no_camera_message(index))
            return
        self._open(source, f"camera {index}")
        self._camera_frames = iter(source)
        self.play()

    @pyqtSlot(str)
    def open_video(self, path: str) -> None:
        self._close_source()
        try:
            video = SeekableVideo(path)
        except SourceError as exc:
            self.notice.emit("source", f"{_sentence(str(exc))} — open another file (File > Open video)")
            return
        self._open(video, video.path.name)
        self._video = video
        self.play()

    @pyqtSlot()
    def play(self) -> None:
        if self._source is None:
            return
        if self._video is not None:
            if self._ended:  # Play after the end starts again
                self._video.seek(0)
                self._reset_windows()
                self._ended = False
            self._clock = (time.monotonic(), self._video.position)
        self.notice.emit("source", "")
        self._set_playing(True)
        self._timer.start(0)

    @pyqtSlot()
    def pause(self) -> None:
        self._timer.stop()
        self._set_playing(False)

    @pyqtSlot(int)
    def seek(self, index: int) -> None:
        """Show frame ``index`` of the video at once (also while paused) and go on from there."""
        if self._video is None:
            return
        self._video.seek(index)
        self._ended = False
        self._reset_windows()  # the windows hold motion from elsewhere in the video
        self.notice.emit("source", "")
        try:
            frame = self._video.read()
        except SourceError as exc:
            self._source_failed(str(exc))
            return
        if frame is not None:
            self._process(frame, force=True)
        self._clock = (time.monotonic(), self._video.position)

    @pyqtSlot(bool)
    def set_loop(self, loop: bool) -> None:
        self._loop = loop

    @pyqtSlot()
    def shutdown(self) -> None:
        """Release the source, the model thread and the pose backend; then emit finished."""
        self._timer.stop()
        self._playing = False
        self._close_engine()
        self._close_source()
        if self._pose is not None:
            self._pose.close()
            self._pose = None
        self._recognizer = None
        self.finished.emit()

    # --- the frame loop -------------------------------------------------------------------------------------------

    @pyqtSlot()  # a slot, so the timer calls it on this object's (capture) thread, not where connect() ran
    def _tick(self) -> None:
        if not self._playing or self._source is None:
            return
        try:
            frame = self._next_frame()
        except SourceError as exc:
            self._source_failed(str(exc))
            return
        if frame is None:
            self._source_ended()
            return
        self._process(frame)
        if self._playing:
            self._timer.start(self._delay_ms())

    def _next_frame(self) -> Frame | None:
        if self._camera_frames is not None:
            return next(self._camera_frames, None)  # waits for the camera's next frame; None once closed
        video = self._video
        assert video is not None
        due = self._clock[1] + int((time.monotonic() - self._clock[0]) * video.fps)
        if due > video.position:  # pose is slower than the video: skip what is already late
            video.skip(due - video.position)
        return video.read()

    def _delay_ms(self) -> int:
        if self._video is None:
            return 0  # a camera paces itself: the next read waits for its next frame
        due = self._clock[0] + (self._video.position - self._clock[1]) / self._video.fps
        return max(0, round((due - time.monotonic()) * 1000))

    def _process(self, frame: Frame, force: bool = False) -> None:
        """Pose (and the model's windows) for one frame; then hand a copy to the GUI if it is ready for one."""
        people, pose_ms = self._run_pose(frame)
        result, layout = None, DISPLAY_LAYOUT
        if self._engine is not None:
            try:
                result = self._engine.submit_people(people, frame.timestamp, frame.index, pose_ms)
                layout = self._engine.layout
            except Exception as exc:  # noqa: BLE001 - the engine re-raises whatever stopped its model thread
                self._drop_model(f"The model stopped ({type(exc).__name__}: {exc})")
        if result is None:
            tracked = tuple(TrackedPerson(i, *to_layout(p, layout)) for i, p in enumerate(people))
            result = PoseResult(frame.index, frame.timestamp, tracked, pose_ms)
        if self._recorder is not None and self._recorder.add(frame.timestamp, result.people, self._focus):
            self.stop_recording()
        if frame.image is None or (self._frame_in_flight.is_set() and not force):
            return
        self._frame_in_flight.set()
        position = frame.index if self._video is not None else None
        self.frame_ready.emit(FrameUpdate(self._session, frame.image.copy(), result, layout, position))

    def _run_pose(self, frame: Frame) -> tuple[list[Person], float]:
        if self._pose is None or frame.image is None:
            return [], 0.0
        started = time.perf_counter()
        try:
            people = self._pose(frame.image)
        except (RuntimeError, ValueError) as exc:  # one bad frame must not stop the stream
            self.notice.emit("pose", f"Pose estimation failed on frame {frame.index} ({exc})")
            return [], 0.0
        return people, (time.perf_counter() - started) * 1000

    def _source_ended(self) -> None:
        if self._video is None:  # a camera closed under us (interrupt): a new request follows
            self._set_playing(False)
            return
        if self._loop:
            self._video.seek(0)
            self._reset_windows()
            self._clock = (time.monotonic(), 0)
            self._timer.start(0)
            return
        self._ended = True
        self._set_playing(False)
        self.notice.emit("source", f"{self._source_name} ended — press Play to watch it again")

    def _source_failed(self, message: str) -> None:
        self._set_playing(False)
        if self._video is None:
            self._close_source()
            self.notice.emit("source", f"{_sentence(message)} — open a camera or a video file (File > Open video)")
        else:
            self._ended = True
            self.notice.emit("source", _sentence(message))

    # --- owned resources ------------------------------------------------------------------------------------------

    def _open(self, source: Source, name: str) -> None:
        with self._lock:
            self._source = source
        self._session += 1
        self._source_name = name
        self._ended = False
        self._frame_in_flight.clear()
        self._rebuild_engine()  # a new engine per source: predictions still in flight keep the old session
        self.notice.emit("source", "")
        self.source_opened.emit(SourceInfo(self._session, name, source.live, source.fps, source.frame_count))

    def _close_source(self) -> None:
        self._timer.stop()
        self._set_playing(False)
        self.stop_recording()  # what was recorded so far is kept
        with self._lock:
            source, self._source = self._source, None
            closer, self._closer = self._closer, None
        self._camera_frames = None
        self._video = None
        if closer is not None:
            closer.join()
        if source is not None and closer is None:
            source.close()

    def _rebuild_engine(self) -> None:
        self._close_engine()
        if self._recognizer is None or self._pose is None:
            return
        session, model = self._session, self._model_serial

        def publish(prediction: Prediction) -> None:  # runs on the model thread; the signal queues it to the GUI
            self.prediction_ready.emit(PredictionUpdate(session, prediction, model))

        config = EngineConfig(mode="live", every_ms=self.config.every_ms, max_people=self._max_people)
        self._engine = Engine(self._recognizer, self._pose, config, on_prediction=publish).start()
        self._engine.set_focus(self._focus)

    def _close_engine(self) -> None:
        engine, self._engine = self._engine, None
        if engine is not None:
            engine.close()  # waits for a prediction in progress

    def _reset_windows(self) -> None:
        if self._engine is not None:
            self._engine.reset()

    def _drop_model(self, message: str) -> None:
        self._close_engine()
        self._recognizer = None
        self._checkpoint = None
        self.notice.emit("model", f"{message} — {MODEL_HINT}")

    def _apply_confidence(self) -> None:
        # MediaPipe backends read min_visibility on every frame; other estimators have no such setting.
        if self._min_confidence is not None and hasattr(self._pose, "min_visibility"):
            self._pose.min_visibility = self._min_confidence

    def _set_playing(self, playing: bool) -> None:
        if playing != self._playing:
            self._playing = playing
            self.playing_changed.emit(playing)

    def _pose_failed(self, message: str) -> None:
        """A pose backend could not be used: say so, and what is still in use or what to do."""
        keeping = f" (still using {self._pose_name})" if self._pose is not None else f" — {POSE_HINT}"
        self.notice.emit("pose", message + keeping)

    def _model_failed(self, message: str) -> None:
        keeping = f" (still using {self._checkpoint.name})" if self._checkpoint is not None else f" — {MODEL_HINT}"
        self.notice.emit("model", message + keeping)
