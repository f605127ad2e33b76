"""Fakes and helpers shared by the GUI tests (tests/test_gui_*.py); the realtime fakes do most of the work."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import cv2
import numpy as np
from realtime_fakes import FakeCapture, FakePose, mediapipe_person

from realtime.gui.app import create_window
from realtime.gui.window import MainWindow
from realtime.gui.worker import WorkerConfig
from realtime.pose import Person, create_estimator
from realtime.recognizer import Recognizer
from realtime.sources import CameraSource
from stfnet.checkpoint import make_checkpoint, save_checkpoint
from stfnet.errors import SourceError
from stfnet.features import NormalizeConfig
from stfnet.model import STFNet, STFNetConfig

LABELS = ["wave", "clap", "kick", "bow", "jump"]


def small_checkpoint(path: Path, layout: str = "openpose18", coords: int = 2, use_score: bool = True) -> Path:
    """A random STF-Net with base 8 channels over 16 frames: real model outputs, quickly (never "uncertain")."""
    cfg = STFNetConfig(layout=layout, num_classes=len(LABELS), base_channels=8, in_channels=coords + int(use_score))
    norm = NormalizeConfig(num_frames=16, coords=coords, use_score=use_score)
    save_checkpoint(make_checkpoint(STFNet(cfg).eval(), LABELS, "joint", norm, {"min_confidence": 0.0}), path)
    return path


class ThresholdPose(FakePose):
    """FakePose with MediaPipe's ``min_visibility`` setting: joints scored below it count as not seen."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.min_visibility = 0.5

    def __call__(self, frame: np.ndarray) -> list[Person]:
        people = super().__call__(frame)
        return [Person(p.keypoints, np.where(p.scores >= self.min_visibility, p.scores, 0.0).astype(np.float32),
                       p.layout) for p in people]


class StallingCapture(FakeCapture):
    """A camera that delivers ``frames`` frames, then hangs in read() until it is released."""

    def __init__(self, frames: int, period: float = 0.02) -> None:
        super().__init__(period=period)
        self.frames = frames
        self._released = threading.Event()

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self.delivered >= self.frames:
            self._released.wait()
            return False, None
        return super().read()

    def release(self) -> None:
        super().release()
        self._released.set()


def no_camera(index: int) -> CameraSource:
    raise SourceError(f"camera {index} could not be opened")


def fake_camera(capture: FakeCapture):
    return lambda index: CameraSource(index, capture_factory=lambda _: capture)


def fake_pose_factory(pose: FakePose | None = None):
    """The given fake for the bundled backend; the real factory (and its checks) for a .task file."""
    return lambda model, people=1: (pose or ThresholdPose()) if model is None else create_estimator(model, people)


def config(camera=no_camera, pose=None, recognizer=None, every_ms: float = 50.0) -> WorkerConfig:
    return WorkerConfig(camera=camera, pose=pose or fake_pose_factory(),
                        recognizer=recognizer or (lambda path: Recognizer.from_file(path, device="cpu")),
                        every_ms=every_ms)


def open_window(qtbot, worker_config: WorkerConfig, **start: object) -> MainWindow:
    window = create_window(worker_config)
    qtbot.addWidget(window)  # closed (and so shut down) at the end of the test
    window.show()
    window.start(**start)
    return window


def grey_video(path: Path, frames: int = 120, fps: float = 20.0) -> Path:
    """Frame i is a flat grey of brightness 2 i: the fake pose moves with it, and a frame tells its index."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (160, 120))
    for i in range(frames):
        writer.write(np.full((120, 160, 3), (2 * i) % 256, np.uint8))
    writer.release()
    return path


def split_video(path: Path, frames: int = 40, fps: float = 20.0) -> Path:
    """Dark left half, bright right half: mirroring shows."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (160, 120))
    image = np.zeros((120, 160, 3), np.uint8)
    image[:, 80:] = 255
    for _ in range(frames):
        writer.write(image)
    writer.release()
    return path


def running_thread_names(before: set[int] = frozenset()) -> list[str]:
    """Python-visible threads whose OS thread still runs, except those in ``before`` (native ids).

    Qt's own threads appear as threading._DummyThread once Python runs in them, and Python keeps those objects
    after the thread ends; /proc tells whether the OS thread is really gone.
    """
    alive = set(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else None
    names = []
    for thread in threading.enumerate():
        if thread is threading.main_thread() or thread.native_id in before:
            continue
        if alive is None or str(thread.native_id) in alive:
            names.append(thread.name)
    return names


class ActingPose(ThresholdPose):
    """A fake person who does ``action``: "wave" swings the wrists up and down, "kick" swings the ankles sideways,
    "still" stands. The motion follows the call count, so any video or camera drives it."""

    def __init__(self) -> None:
        super().__init__()
        self.action = "still"

    def __call__(self, frame: np.ndarray) -> list[Person]:
        self.calls += 1
        if self.nobody:
            return []
        person = mediapipe_person(0.0)
        keypoints = person.keypoints.copy()
        swing = np.sin(self.calls / 2.0)
        if self.action == "wave":
            keypoints[[15, 16], 1] -= 40 + 30 * swing  # wrists above the shoulders, up and down
        elif self.action == "kick":
            keypoints[[27, 28], 0] += 40 * swing  # ankles side to side
        return [Person(keypoints, person.scores, person.layout)]
