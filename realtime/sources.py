"""Sources of timestamped frames: a camera, a video file, a folder of OpenPose JSON files, a skeleton file.

API::

    with open_source("clip.mp4") as source:    # 0 / "0": camera; a folder: OpenPose JSON; .pkl/.npz: skeletons
        for frame in source:                   # Frame(index, timestamp, image, people, captured_at)
            ...

Every source is iterated once and has ``fps`` (None when unknown), ``frame_count`` (None when unknown),
``live`` and ``close()``. Image sources yield BGR images (``frame.image``) and leave ``frame.people`` None;
keypoint sources yield ``frame.people`` (already detected) and no image. Timestamps are seconds from the
start of the stream: frame index / fps for files, the wall clock for cameras.

A live source never falls behind: the camera's grabber thread keeps only the newest frame, so a slow consumer
sees gaps in ``frame.index`` instead of a growing delay. A video file yields every frame, or, with
``pace=True``, plays in real time and skips frames that are already late.

Problems the user can fix (no camera, a missing, unreadable or truncated file) raise ``SourceError``.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import cv2
import numpy as np

from realtime.pose import Person
from stfnet.errors import SourceError
from stfnet.features import default_scores

# The dataset format belongs to train.data; replaying a skeleton file reads it through the same safe readers.
from train.data import safe_pickle
from train.data.format import load_dataset
from train.data.validate import check_sample

DEFAULT_FPS = 30.0  # assumed when a file does not say (keypoint files) or says nonsense
PLAUSIBLE_FPS = (1.0, 240.0)  # frame rates a video file may report; others are read as an error of the file
MAX_FPS = 1000.0  # the largest rate a user may give
OPENPOSE_LAYOUTS = {18: "openpose18", 25: "body25"}  # joints per person -> source layout
SKELETON_LAYOUTS = {17: "coco17", 18: "openpose18", 20: "kinect20", 25: "ntu25"}
_S = TypeVar("_S", bound="_Closing")

# FFmpeg inside OpenCV prints its own complaint about a damaged file ("moov atom not found") to the terminal before
# we can say one sentence about it. It reads this level once, when the process opens its first video; ``--verbose``
# (STFNET_VERBOSE) and a level the user set keep its messages.
if not os.environ.get("STFNET_VERBOSE"):
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET


@dataclass(frozen=True)
class Frame:
    index: int  # position in the stream; a camera's dropped frames leave gaps
    timestamp: float  # seconds since the start of the stream
    image: np.ndarray | None = None  # BGR (H, W, 3); None for keypoint sources
    people: tuple[Person, ...] | None = None  # keypoints read from a file; None: run the pose estimator
    captured_at: float = field(default_factory=time.monotonic)  # wall clock (time.monotonic()) when obtained


class Source(Protocol):
    fps: float | None
    frame_count: int | None
    live: bool  # a camera: frames come in real time and are dropped when the consumer is slow
    has_images: bool  # frames carry images (run pose on them) rather than keypoints

    def __iter__(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...


class _Closing:
    """Context-manager support shared by the sources."""

    def close(self) -> None:
        pass

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@contextmanager
def quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's own log while probing, so the user reads our one sentence instead of backend noise."""
    level = cv2.getLogLevel()
    cv2.setLogLevel(0)
    try:
        yield
    finally:
        cv2.setLogLevel(level)


class CameraSource(_Closing):
    """A camera by index. A grabber thread reads continuously and keeps only the newest frame."""

    live = True
    has_images = True
    frame_count = None

    def __init__(self, index: int, width: int | None = None, height: int | None = None,
                 capture_factory: Callable[[int], Any] = cv2.VideoCapture) -> None:
        self.index = index
        with quiet_opencv():
            cap = capture_factory(index)
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"camera {index} could not be opened; check that it is connected and not in use by "
                              f"another program, or choose another camera index")
        if width:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        if height:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 0 < fps < 1000 else None
        self._cap = cap
        self._cond = threading.Condition()
        self._latest: tuple[int, float, np.ndarray] | None = None
        self._failed = False
        self._closed = False
        self._thread = threading.Thread(target=self._grab_loop, name=f"camera-{index}", daemon=True)
        self._thread.start()

    def _grab_loop(self) -> None:
        grabbed = 0
        while not self._closed:
            ok, image = self._cap.read()
            now = time.monotonic()
            with self._cond:
                if not ok or image is None:
                    self._failed = True
                    self._cond.notify_all()
                    return
                self._latest = (grabbed, now, image)  # replaces an unread frame: live sources drop, not queue
                grabbed += 1
                self._cond.notify_all()

    def __iter__(self) -> Iterator[Frame]:
        seen, start = -1, None
        while True:
            with self._cond:
                while not self._closed and not self._failed and (self._latest is None or self._latest[0] == seen):
                    self._cond.wait()
                if self._closed:
                    return
                if self._latest is None or self._latest[0] == seen:
                    raise SourceError(f"camera {self.index} stopped delivering frames; check its connection")
                index, captured_at, image = self._latest
            seen = index
            start = captured_at if start is None else start
            # A copy, so that a consumer holding this frame never shares memory with the grabber thread.
            yield Frame(index, captured_at - start, image.copy(), captured_at=captured_at)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=2.0)
        self._cap.release()


class VideoSource(_Closing):
    """Every frame of a video file, timestamped index / fps; with ``pace``, in real time, skipping late frames."""

    live = False
    has_images = True

    def __init__(self, path: str | Path, pace: bool = False, fps: float | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        """``fps`` overrides the rate the file reports (for files that report nonsense); ``clock`` and ``sleep``
        pace the playback (a test's own clock)."""
        self.path = Path(path)
        _check_given_fps(fps)
        if not self.path.is_file():
            raise SourceError(f"video file {self.path} does not exist")
        with quiet_opencv():
            cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"video file {self.path} cannot be read; it is damaged or not a video format OpenCV "
                              f"can decode")
        self.fps = fps or _plausible_fps(cap.get(cv2.CAP_PROP_FPS), self.path)
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.frame_count = count if count > 0 else None
        self.width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.pace = pace
        self._clock, self._sleep = clock, sleep
        self.frames_read = 0  # frames decoded or skipped so far
        self._cap = cap

    def __iter__(self) -> Iterator[Frame]:
        period = 1.0 / self.fps
        start = self._clock()
        index = 0
        while True:
            if self.pace:
                late = self._clock() - (start + index * period)
                if late < 0:
                    self._sleep(-late)
                elif late > period:  # already behind by a whole frame: skip it without decoding
                    if not self._cap.grab():
                        break
                    index += 1
                    continue
            ok, image = self._cap.read()
            if not ok or image is None:
                break
            self.frames_read = index + 1
            yield Frame(index, index * period, image, captured_at=self._clock())
            index += 1
        self.frames_read = index
        self._check_complete(index)

    def _check_complete(self, read: int) -> None:
        if read == 0:
            raise SourceError(f"video file {self.path} has no readable frames; it is empty or damaged")
        expected = self.frame_count
        # The container's frame count can be an estimate: allow a small shortfall before calling it truncated.
        if expected and read < expected - max(2, expected // 100):
            raise SourceError(f"video file {self.path} ends after {read} of its {expected} frames; it is "
                              f"truncated or damaged")

    def close(self) -> None:
        self._cap.release()


def _check_given_fps(fps: float | None) -> None:
    if fps is not None and not 0 < fps <= MAX_FPS:
        raise SourceError(f"--fps {fps} is not a frame rate: give a number above 0 and up to {MAX_FPS:.0f}")


def _plausible_fps(reported: float, path: Path) -> float:
    """The file's frame rate, or ``DEFAULT_FPS`` with a warning when it reports one no camera records at: every
    timestamp (and so every window the model sees) is frame index / fps."""
    if PLAUSIBLE_FPS[0] <= reported <= PLAUSIBLE_FPS[1]:
        return reported
    print(f"warning: video file {path} reports {reported:g} frames per second, which no camera records at; "
          f"assuming {DEFAULT_FPS:g} (give the real rate with --fps)", file=sys.stderr)
    return DEFAULT_FPS


def _natural_key(path: Path) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


class OpenPoseFolderSource(_Closing):
    """A folder of OpenPose JSON files, one per frame (``{"people": [{"pose_keypoints_2d": [x, y, c, ...]}]}``).

    COCO-18 (54 values) and BODY_25 (75 values) are told apart by length.
    """

    live = False
    has_images = False

    def __init__(self, folder: str | Path, fps: float = DEFAULT_FPS) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise SourceError(f"keypoint folder {self.folder} does not exist")
        self.files = sorted(self.folder.glob("*.json"), key=_natural_key)
        if not self.files:
            raise SourceError(f"keypoint folder {self.folder} has no OpenPose .json files")
        self.fps = fps
        self.frame_count = len(self.files)

    def __iter__(self) -> Iterator[Frame]:
        for index, path in enumerate(self.files):
            yield Frame(index, index / self.fps, people=tuple(read_openpose_json(path)))


def read_openpose_json(path: Path) -> list[Person]:
    """The people of one OpenPose JSON frame; people with no joint seen are left out."""
    try:
        data = json.loads(path.read_text())
        entries = data["people"]
        flat = [np.asarray(p["pose_keypoints_2d"], dtype=np.float32) for p in entries]
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise SourceError(f"OpenPose file {path} is not readable OpenPose JSON ({type(exc).__name__}: {exc})") from None
    people = []
    for values in flat:
        layout = OPENPOSE_LAYOUTS.get(values.size // 3) if values.size % 3 == 0 else None
        if layout is None:
            raise SourceError(f"OpenPose file {path} has a person with {values.size} values; expected 54 (COCO-18) "
                              f"or 75 (BODY_25)")
        joints = values.reshape(-1, 3)  # (V, x y c)
        if joints[:, 2].any():
            people.append(Person(keypoints=joints[:, :2].copy(), scores=joints[:, 2].copy(), layout=layout))
    return people


class SkeletonFileSource(_Closing):
    """One sample of a dataset file (``.npz`` or a pyskl pickle), played as a stream at ``fps``.

    Pickles are read by ``train.data.safe_pickle``, so a stranger's file cannot run code. The layout is taken
    from the joint count (17 coco17, 18 openpose18, 20 kinect20, 25 ntu25) unless given.
    """

    live = False
    has_images = False

    def __init__(self, path: str | Path, sample: str | None = None, fps: float = DEFAULT_FPS,
                 layout: str | None = None) -> None:
        self.path = Path(path)
        annotation = _choose_annotation(_load_annotations(self.path), sample, self.path)
        check_sample(annotation, f"{self.path}, sample {annotation.get('frame_dir')!r}")
        keypoints = np.asarray(annotation["keypoint"], dtype=np.float32)  # (M, T, V, C)
        scores = annotation.get("keypoint_score")
        self.scores = default_scores(keypoints) if scores is None else np.asarray(scores, dtype=np.float32)
        self.keypoints = keypoints
        self.layout = layout or SKELETON_LAYOUTS.get(keypoints.shape[2])
        if self.layout is None:
            raise SourceError(f"{self.path} has {keypoints.shape[2]} joints per person, which matches no known "
                              f"layout; give the layout explicitly")
        self.sample = str(annotation.get("frame_dir"))
        self.fps = fps
        self.frame_count = keypoints.shape[1]

    def __iter__(self) -> Iterator[Frame]:
        for t in range(self.frame_count):
            people = tuple(Person(self.keypoints[m, t].copy(), self.scores[m, t].copy(), self.layout)
                           for m in range(self.keypoints.shape[0]) if self.scores[m, t].any())
            yield Frame(t, t / self.fps, people=people)


def _load_annotations(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise SourceError(f"skeleton file {path} does not exist")
    if path.suffix.lower() == ".npz":
        return load_dataset(path)["annotations"]
    try:
        data = safe_pickle.load_file(path)
    except safe_pickle.PickleError as exc:
        raise SourceError(f"skeleton file {path} {exc}") from None
    if isinstance(data, dict) and "annotations" in data:
        data = data["annotations"]
    elif isinstance(data, dict):
        data = [data]  # a single sample, as some tools save it
    if not isinstance(data, list) or not all(isinstance(a, dict) and "keypoint" in a for a in data):
        raise SourceError(f"skeleton file {path} is not in the dataset format (a dict with an 'annotations' list of "
                          f"samples with 'frame_dir' and 'keypoint')")
    return data


def _choose_annotation(annotations: list[dict[str, Any]], sample: str | None, path: Path) -> dict[str, Any]:
    if sample is None:
        if len(annotations) == 1:
            return annotations[0]
        names = ", ".join(str(a.get("frame_dir")) for a in annotations[:3])
        raise SourceError(f"skeleton file {path} holds {len(annotations)} samples; choose one by its frame_dir "
                          f"(e.g. {names})")
    for annotation in annotations:
        if str(annotation.get("frame_dir")) == sample:
            return annotation
    raise SourceError(f"skeleton file {path} has no sample with frame_dir '{sample}'")


def open_source(spec: str | int | Path, pace: bool = False, sample: str | None = None,
                fps: float | None = None) -> Source:
    """A camera index (int or digits), a folder of OpenPose JSON, a ``.pkl`` or ``.npz`` skeleton file, or a
    video file."""
    _check_given_fps(fps)
    if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit()):
        return CameraSource(int(spec))
    path = Path(spec)
    if path.is_dir():
        return OpenPoseFolderSource(path, fps or DEFAULT_FPS)
    if path.suffix.lower() in (".pkl", ".pickle", ".npz"):
        return SkeletonFileSource(path, sample, fps or DEFAULT_FPS)
    return VideoSource(path, pace=pace, fps=fps)
