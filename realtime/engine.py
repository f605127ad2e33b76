"""The recognition engine: frames in; pose results back at once; predictions from a model thread.

API (the GUI wraps this in its QThread worker)::

    recognizer = Recognizer.from_file(path)
    engine = Engine(recognizer, create_estimator(), EngineConfig(every_ms=50), on_prediction=callback)
    with engine:                                   # starts and stops the model thread
        for frame in source:
            result = engine.submit_frame(frame)    # PoseResult, right away: tracked people, model-layout keypoints
            draw(frame.image, result)              # ... or engine.submit(image, timestamp, frame_index)
            prediction = engine.latest()           # the newest Prediction (or None), if not using the callback
    engine.reset()                                 # forget all people and windows (switching sources)
    engine.set_focus(person_id)                    # whose prediction and maps lead (None: the oldest track)

Two modes (``EngineConfig.mode``):

- ``"live"``: the model thread classifies the newest window at most every ``every_ms`` of wall-clock time, and
  only when a frame arrived since its last run. Latest wins: frames that arrive while the model runs update
  the windows and nothing queues, so a slow model lowers the prediction rate, never adds delay.
- ``"replay"``: a prediction at every ``every_ms`` of *stream* time, none dropped, in order, so the timeline of
  a video is the same on any machine. With ``overlap`` the model runs on its thread while pose goes on (at most
  two windows in flight: a slower model makes submit() wait, it does not queue); without, inline in submit().

Threading: submit*() are called from one thread (capture + pose). ``on_prediction`` is called on the model
thread (replay without overlap: in submit()); a GUI forwards it to its own thread, e.g. with a Qt signal.
Everything handed to the model thread is a copy. An exception on the model thread is re-raised by the next
submit*() or flush(). The engine holds no Qt and no images: only keypoints cross threads.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from realtime.pose import Person, PoseEstimator, check_feedable, to_layout
from realtime.recognizer import Prediction, Recognizer, Request, TrackedPerson, WindowSample
from realtime.sources import Frame
from realtime.tracker import Tracker
from realtime.window import SkeletonWindow

MODES = ("live", "replay")


@dataclass(frozen=True)
class EngineConfig:
    mode: str = "live"  # "live": newest window, wall clock, drop; "replay": every tick of stream time, in order
    every_ms: float = 50.0  # classify at most this often (live: wall clock; replay: stream time); 0: every frame
    overlap: bool = True  # replay: run the model on its thread while pose continues; False: inline, one thread
    max_people: int = 1  # people tracked and classified (MediaPipe's bundled model finds one)
    lost_after: float = 0.5  # seconds a person may go unseen before their track and window are dropped
    window_seconds: float | None = None  # seconds one window covers; None: the checkpoint's
    min_coverage: float = 0.5  # fraction of the window that must hold frames before classifying

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got '{self.mode}'")
        if self.every_ms < 0 or self.max_people < 1:
            raise ValueError("every_ms must be >= 0 and max_people >= 1")


@dataclass(frozen=True)
class PoseResult:
    frame_index: int
    timestamp: float  # stream seconds
    people: tuple[TrackedPerson, ...]  # people in this frame, model layout, ordered by track id
    pose_ms: float  # time spent in the pose estimator (0 for keypoint sources)


class Engine:
    def __init__(self, recognizer: Recognizer, pose: PoseEstimator | None = None,
                 config: EngineConfig | None = None,
                 on_prediction: Callable[[Prediction], None] | None = None) -> None:
        self.recognizer = recognizer
        self.pose = pose
        self.config = config or EngineConfig()
        self.on_prediction = on_prediction
        self.layout = recognizer.layout
        self.window_seconds = self.config.window_seconds or recognizer.window_seconds
        if pose is not None:  # fail at start-up, not on the first frame with a person in it
            check_feedable(pose.layout, pose.coords, self.layout, recognizer.norm.coords)
        self._checked_sources: set[tuple[str, int]] = set()
        self._tracker = Tracker(self.config.max_people, self.config.lost_after)
        self._windows: dict[int, SkeletonWindow] = {}
        self._newest: tuple[float, int] | None = None  # (timestamp, frame index) of the newest frame
        self._visible: list[int] = []  # ids seen in the newest frame
        self._focus: int | None = None  # the person the user chose to follow (their maps are the ones returned)
        self._lock = threading.Condition()  # guards the buffers above and the thread state below
        self._dirty = False  # live: a frame arrived since the model thread's last request
        self._latest: Prediction | None = None
        self._error: BaseException | None = None
        self._closed = False
        self._thread: threading.Thread | None = None
        self._jobs: queue.Queue[Request | None] = queue.Queue(maxsize=1)  # replay hand-off
        self._next_tick: float | None = None

    # --- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> Engine:
        """Start the model thread (idempotent). submit*() starts it too."""
        needs_thread = self.config.mode == "live" or self.config.overlap
        if needs_thread and self._thread is None:
            self._closed = False  # started again after close(), e.g. when the GUI resumes
            target = self._run_live if self.config.mode == "live" else self._run_replay
            self._thread = threading.Thread(target=target, name="stfnet-model", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop the model thread; a replay's windows already handed over are still classified first."""
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        if self._thread is not None:
            if self.config.mode == "replay":
                self._jobs.put(None)
            self._thread.join()
            self._thread = None

    def __enter__(self) -> Engine:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def set_focus(self, person_id: int | None) -> None:
        """Make ``person_id`` the main person of every prediction while they are tracked (None: the oldest)."""
        with self._lock:
            self._focus = person_id
            if self.config.mode == "live" and self._newest is not None:  # show it without waiting for a frame
                self._dirty = True
            self._lock.notify_all()

    def reset(self) -> None:
        """Forget every person and window, e.g. when the GUI switches to another source."""
        with self._lock:
            self._tracker.reset()
            self._windows.clear()
            self._visible = []
            self._newest = None
            self._dirty = False
            self._next_tick = None

    # --- input ---------------------------------------------------------------------------------------------------

    def submit_frame(self, frame: Frame) -> PoseResult:
        """A frame from a source: pose estimation for images, the file's keypoints otherwise."""
        if frame.people is not None:
            return self.submit_people(frame.people, frame.timestamp, frame.index)
        return self.submit(frame.image, frame.timestamp, frame.index)

    def submit(self, image: np.ndarray, timestamp: float, frame_index: int) -> PoseResult:
        """Run pose on a BGR image and add the people found to their windows."""
        if self.pose is None:
            raise ValueError("this engine has no pose estimator: submit keypoints with submit_people()")
        started = time.perf_counter()
        people = self.pose(image)
        return self.submit_people(people, timestamp, frame_index, (time.perf_counter() - started) * 1000)

    def submit_people(self, people: Sequence[Person], timestamp: float, frame_index: int,
                      pose_ms: float = 0.0) -> PoseResult:
        """Add already-detected people (source layout) to their windows; returns them tracked, in model layout."""
        self._raise_worker_error()
        self.start()
        remapped = [self._to_model_layout(p) for p in people]
        request = None
        with self._lock:
            if self._newest is not None and timestamp < self._newest[0]:
                self._restart()  # time went backwards: a new stream
            update = self._tracker.update([k for k, _ in remapped], [s for _, s in remapped], timestamp)
            for pid in update.lost:
                self._windows.pop(pid, None)
            tracked = []
            for (keypoints, scores), pid in zip(remapped, update.ids, strict=True):
                if pid is None:
                    continue
                window = self._windows.get(pid)
                if window is None:
                    window = self._windows[pid] = SkeletonWindow(self.window_seconds, self.config.min_coverage)
                window.push(timestamp, keypoints, scores, frame_index)
                tracked.append(TrackedPerson(pid, keypoints, scores))
            tracked.sort(key=lambda p: p.person_id)
            self._visible = [p.person_id for p in tracked]
            self._newest = (timestamp, frame_index)
            if self.config.mode == "live":
                self._dirty = True
                self._lock.notify_all()
            elif self._tick_due(timestamp):
                request = self._build_request()
        if request is not None:
            self._dispatch(request)
        return PoseResult(frame_index, timestamp, tuple(tracked), pose_ms)

    def _to_model_layout(self, person: Person) -> tuple[np.ndarray, np.ndarray]:
        key = (person.layout, person.keypoints.shape[-1])
        if key not in self._checked_sources:  # keypoint files: checked on the first person of each kind
            check_feedable(person.layout, person.keypoints.shape[-1], self.layout, self.recognizer.norm.coords)
            self._checked_sources.add(key)
        return to_layout(person, self.layout)

    def _restart(self) -> None:
        self._tracker.reset()
        self._windows.clear()
        self._next_tick = None

    # --- output --------------------------------------------------------------------------------------------------

    def latest(self) -> Prediction | None:
        with self._lock:
            return self._latest

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every window handed to the model has been classified (live: the newest frame's)."""
        if self.config.mode == "replay":
            if self._thread is not None:
                self._jobs.join()
        elif self._thread is not None and self._newest is not None:
            newest = self._newest[1]
            with self._lock:
                self._lock.wait_for(lambda: self._error is not None or self._closed or (
                    self._latest is not None and self._latest.frame_index >= newest), timeout)
        self._raise_worker_error()

    # --- scheduling ---------------------------------------------------------------------------------------------

    def _tick_due(self, timestamp: float) -> bool:
        """Replay: is a prediction due at this frame? Ticks sit on a fixed grid of stream time."""
        every = self.config.every_ms / 1000
        if every <= 0:
            return True
        if self._next_tick is not None and timestamp < self._next_tick - 1e-9:
            return False
        self._next_tick = (math.floor(timestamp / every + 1e-9) + 1) * every
        return True

    def _build_request(self) -> Request:
        """Copy what the model needs out of the buffers (called with the lock held)."""
        timestamp, frame_index = self._newest
        # Main person first: the one in focus, else the oldest track seen in this frame; people briefly unseen
        # keep their place after.
        order = self._visible + sorted(set(self._windows) - set(self._visible))
        if self._focus in order:
            order.remove(self._focus)
            order.insert(0, self._focus)
        people = tuple(TrackedPerson(pid, *self._windows[pid].newest()) for pid in order)
        ready = [pid for pid in order if self._windows[pid].ready]
        num_frames = self.recognizer.num_frames
        samples = []
        if self.recognizer.num_persons == 1:
            for pid in ready:
                snap = self._windows[pid].snapshot(num_frames)
                samples.append(WindowSample((pid,), snap.keypoints[None], snap.scores[None], snap.span))
        elif ready:
            # A multi-person checkpoint sees everyone at once, on the main person's sample times.
            snap = self._windows[ready[0]].snapshot(num_frames)
            parts = [self._windows[pid].sample(snap.times) for pid in ready]
            samples.append(WindowSample(tuple(ready), np.stack([k for k, _ in parts]),
                                        np.stack([s for _, s in parts]), snap.span))
        return Request(timestamp, frame_index, people, tuple(samples))

    def _dispatch(self, request: Request) -> None:
        """Replay: hand a request to the model thread (waiting while two are in flight), or classify inline."""
        if not self.config.overlap:
            self._publish(self.recognizer.predict(request))
            return
        while True:
            try:
                self._jobs.put(request, timeout=0.1)
                return
            except queue.Full:
                self._raise_worker_error()

    def _publish(self, prediction: Prediction) -> None:
        with self._lock:
            self._latest = prediction
            self._lock.notify_all()
        if self.on_prediction is not None:
            self.on_prediction(prediction)

    def _raise_worker_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    # --- model thread -------------------------------------------------------------------------------------------

    def _run_live(self) -> None:
        every = self.config.every_ms / 1000
        last_start = -math.inf
        while True:
            with self._lock:
                # Wait for a new frame, then for the next slot; close() interrupts both.
                self._lock.wait_for(lambda: self._closed or self._dirty)
                self._lock.wait_for(lambda: self._closed, timeout=max(0.0, last_start + every - time.monotonic()))
                if self._closed:
                    return
                request = self._build_request()
                self._dirty = False
            last_start = time.monotonic()
            try:
                self._publish(self.recognizer.predict(request))
            except Exception as exc:  # handed to the submitting thread, which re-raises it
                with self._lock:
                    self._error = exc
                    self._lock.notify_all()
                return

    def _run_replay(self) -> None:
        failed = False
        while True:
            request = self._jobs.get()
            try:
                if request is None:
                    return
                if not failed:  # after a failure keep draining, so that flush() and submit() never hang
                    self._publish(self.recognizer.predict(request))
            except Exception as exc:  # handed to the submitting thread, which re-raises it
                failed = True
                with self._lock:
                    self._error = exc
            finally:
                self._jobs.task_done()
