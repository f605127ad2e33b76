"""Pose estimation: a BGR image -> the people in it, as keypoints in a source layout; remap to the model's layout.

API::

    estimator = MediaPipePose()                           # bundled model, offline, one person
    estimator = MultiPersonPose(4)                        # bundled networks, offline, several (multipose.py)
    estimator = MediaPipeLandmarker("pose.task", 4)       # a MediaPipe Tasks model file: several people
    check_feedable(estimator.layout, estimator.coords, ckpt.layout, ckpt.normalize.coords)  # at start-up
    people = estimator(frame_bgr)                         # list[Person], keypoints (V_src, 2) px, scores (V_src,)
    keypoints, scores = to_layout(people[0], ckpt.layout) # (V, 2), (V,) in the model's joint order
    estimator.close()

Any object with a ``layout`` attribute (source layout name), ``coords`` (2 or 3) and ``__call__(frame) ->
list[Person]`` is a ``PoseEstimator``; tests use fakes. Estimators are used from one thread only.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import cv2
import numpy as np

from stfnet.errors import CheckpointError, SourceError
from stfnet.layouts import BUILTIN_LAYOUTS, REMAPS, Layout, remap

# Below this MediaPipe visibility a landmark counts as not seen (MediaPipe's own drawing threshold).
MIN_VISIBILITY = 0.5
# People whose seen landmarks span less than this share of the frame's shorter side are ignored: too far away for
# their joints to be read reliably (MediaPipe still "finds" pedestrians tens of metres away, 10-25 % of the frame).
# The span is the longer side of the box around the seen joints, so someone lying down counts as much as someone
# standing.
MIN_PERSON_SIZE = 0.3
# Someone already followed stays followed down to this share of MIN_PERSON_SIZE: a person who crouches or bends
# is not dropped (hysteresis), while people far away are never taken up.
KEEP_SIZE_FACTOR = 0.6
# MediaPipe's native code announces its graph and networks over the first frames (the landmark network starts only
# once a person is found); that many frames run with its stderr silenced (see quiet_native_logs).
QUIET_FRAMES = 30


@contextmanager
def quiet_native_logs(enabled: bool = True) -> Iterator[None]:
    """Send what native code writes to stderr (MediaPipe's and LiteRT's start-up notes and warnings about
    themselves, which the user cannot act on) to /dev/null while the block runs, unless ``STFNET_VERBOSE`` is set
    (``main.py --verbose``). Used only around starting a model and its first frame."""
    if not enabled or os.environ.get("STFNET_VERBOSE") or not hasattr(os, "dup2"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@dataclass(frozen=True)
class Person:
    """One detected person in one frame, in the layout of the keypoint source."""

    keypoints: np.ndarray  # (V_src, C): pixels for pose estimators, the file's units for keypoint files
    scores: np.ndarray  # (V_src,) in [0, 1]; 0 = joint not seen
    layout: str  # source layout: 'mediapipe33', 'openpose18', 'body25', 'coco17', 'ntu25', ...


@runtime_checkable
class PoseEstimator(Protocol):
    layout: str  # source layout of the people it returns
    coords: int  # coordinates per keypoint it returns

    def __call__(self, frame: np.ndarray) -> list[Person]: ...

    def close(self) -> None: ...


def person_from_landmarks(landmarks: Sequence[Any], width: int, height: int,
                          min_visibility: float = MIN_VISIBILITY) -> Person:
    """A Person from 33 MediaPipe landmarks (objects with normalised ``x``, ``y`` and ``visibility``).

    Landmarks below ``min_visibility`` get score 0, so normalize() treats them as missing rather than trusting
    MediaPipe's guess of where a hidden joint is.
    """
    xy = np.array([(lm.x, lm.y) for lm in landmarks], dtype=np.float32) * np.array([width, height], np.float32)
    # Tasks results may leave visibility unset; a landmark it returns without one is taken as seen.
    vis = np.array([1.0 if lm.visibility is None else lm.visibility for lm in landmarks], dtype=np.float32)
    scores = np.where(vis >= min_visibility, vis, 0.0).astype(np.float32)
    return Person(keypoints=xy, scores=scores, layout="mediapipe33")


def people_from_landmarker_result(result: Any, width: int, height: int,
                                  min_visibility: float = MIN_VISIBILITY) -> list[Person]:
    """People from a MediaPipe Tasks ``PoseLandmarkerResult`` (``.pose_landmarks``: one landmark list per person)."""
    return [person_from_landmarks(lms, width, height, min_visibility) for lms in (result.pose_landmarks or [])]


def big_enough(person: Person, frame_shape: tuple[int, ...], min_size: float) -> bool:
    """Whether the person's seen joints span at least ``min_size`` of the frame's shorter side, in any direction
    (the longer side of their box): standing, lying or upside down alike."""
    seen = person.keypoints[person.scores > 0, :2]
    if len(seen) < 2:
        return False
    extent = float((seen.max(axis=0) - seen.min(axis=0)).max())
    return extent >= min_size * min(frame_shape[:2])


class MediaPipePose:
    """MediaPipe's bundled pose model (``solutions.pose``): offline, one person per frame."""

    layout = "mediapipe33"
    coords = 2

    def __init__(self, model_complexity: int = 1, min_visibility: float = MIN_VISIBILITY,
                 min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5,
                 min_size: float = MIN_PERSON_SIZE) -> None:
        os.environ.setdefault("GLOG_minloglevel", "2")  # keep MediaPipe's C++ start-up chatter off the terminal
        with quiet_native_logs():
            from mediapipe.python.solutions import pose as mp_pose

            self._pose = mp_pose.Pose(static_image_mode=False, model_complexity=model_complexity,
                                      min_detection_confidence=min_detection_confidence,
                                      min_tracking_confidence=min_tracking_confidence)
            # MediaPipe opens its networks in its own threads after the graph starts, and announces them there,
            # after the constructor returns; a first (blank) frame waits until they are open, inside this block.
            self._pose.process(np.zeros((64, 64, 3), np.uint8))
        self.min_visibility = min_visibility
        self.min_size = min_size
        self._following = False  # a person was returned for the previous frame
        self._quiet_frames = QUIET_FRAMES  # MediaPipe starts its networks over the first frames, and says so

    def __call__(self, frame: np.ndarray) -> list[Person]:
        height, width = frame.shape[:2]
        with quiet_native_logs(self._quiet_frames > 0):
            result = self._pose.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        self._quiet_frames -= 1
        if result.pose_landmarks is None:
            self._following = False
            return []
        person = person_from_landmarks(result.pose_landmarks.landmark, width, height, self.min_visibility)
        size = self.min_size * (KEEP_SIZE_FACTOR if self._following else 1.0)
        self._following = big_enough(person, frame.shape, size)
        return [person] if self._following else []

    def close(self) -> None:
        self._pose.close()


class MediaPipeLandmarker:
    """A MediaPipe Tasks ``PoseLandmarker`` from a ``.task`` model file: several people per frame."""

    layout = "mediapipe33"
    coords = 2

    def __init__(self, model_path: str | Path, num_poses: int = 4, min_visibility: float = MIN_VISIBILITY,
                 min_size: float = MIN_PERSON_SIZE) -> None:
        path = Path(model_path)
        if path.suffix != ".task" or not path.is_file():
            raise SourceError(f"pose model {path} does not exist or is not a MediaPipe '.task' file; "
                              f"download a pose_landmarker .task model or leave the option out")
        os.environ.setdefault("GLOG_minloglevel", "2")
        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions, vision

        self._mp = mp
        self.min_visibility = min_visibility
        self.min_size = min_size
        options = vision.PoseLandmarkerOptions(base_options=BaseOptions(model_asset_path=str(path)),
                                               running_mode=vision.RunningMode.VIDEO, num_poses=num_poses)
        try:
            with quiet_native_logs():
                self._landmarker = vision.PoseLandmarker.create_from_options(options)
        except (RuntimeError, ValueError) as exc:
            raise SourceError(f"pose model {path} could not be loaded ({exc})") from None
        self._last_ms = -1
        self._quiet_frames = QUIET_FRAMES

    def __call__(self, frame: np.ndarray) -> list[Person]:
        height, width = frame.shape[:2]
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB,
                               data=cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        # VIDEO mode needs strictly increasing timestamps; the wall clock gives its tracker real time steps.
        self._last_ms = max(self._last_ms + 1, int(time.monotonic() * 1000))
        with quiet_native_logs(self._quiet_frames > 0):
            result = self._landmarker.detect_for_video(image, self._last_ms)
        self._quiet_frames -= 1
        people = people_from_landmarker_result(result, width, height, self.min_visibility)
        return [p for p in people if big_enough(p, frame.shape, self.min_size)]

    def close(self) -> None:
        self._landmarker.close()


def create_estimator(model_path: str | Path | None = None, max_people: int = 1) -> PoseEstimator:
    """A Tasks landmarker when the user gives a ``.task`` file; else MediaPipe's bundled models: the pose
    solution for one person, its detector and landmark networks run directly for several."""
    if model_path is not None:
        return MediaPipeLandmarker(model_path, num_poses=max_people)
    if max_people > 1:
        from realtime.multipose import MultiPersonPose  # needs the LiteRT interpreter

        return MultiPersonPose(max_people)
    return MediaPipePose()


def feedable_layouts(source: str) -> list[str]:
    """Layouts that keypoints from ``source`` can be remapped to."""
    targets = [target for src, target in REMAPS if src == source]
    return ([source] if source in BUILTIN_LAYOUTS else []) + targets


def check_feedable(source: str, coords: int, layout: Layout, model_coords: int) -> None:
    """Fail at start-up, in one sentence, when a keypoint source cannot feed a checkpoint."""
    if source != layout.name and (source, layout.name) not in REMAPS:
        *others, last = feedable_layouts(source)
        names = f"{', '.join(others)} or {last}" if others else last
        raise CheckpointError(f"the checkpoint is for layout '{layout.name}', which '{source}' keypoints cannot "
                              f"feed; use a checkpoint trained on {names}")
    if model_coords > coords:
        raise CheckpointError(f"the checkpoint needs {model_coords}D keypoints but '{source}' keypoints are "
                              f"{coords}D; use a checkpoint trained on 2D keypoints (x, y, score)")


def to_layout(person: Person, layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """``(V, C)`` keypoints and ``(V,)`` scores of a person in the model's layout."""
    return remap(person.keypoints, person.scores, person.layout, layout)
