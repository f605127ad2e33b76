"""Fakes shared by the realtime tests (tests/test_realtime_*.py): checkpoints, pose estimators, videos, cameras."""

from __future__ import annotations

import os
import time
from pathlib import Path

import cv2
import numpy as np

from realtime.pose import Person
from stfnet.checkpoint import make_checkpoint, save_checkpoint
from stfnet.features import NormalizeConfig
from stfnet.model import STFNet, STFNetConfig

LABELS = ["wave", "clap", "kick", "bow"]


def tiny_checkpoint(path: Path, layout: str = "openpose18", num_frames: int = 32, coords: int = 2,
                    use_score: bool = True, num_persons: int = 1, stream: str = "joint",
                    extra: dict | None = None) -> Path:
    """A random small STF-Net checkpoint in the live configuration (or another one).

    A random model is never confident, so it records ``min_confidence`` 0 (never "uncertain") unless ``extra``
    says otherwise."""
    cfg = STFNetConfig(layout=layout, num_classes=len(LABELS), base_channels=8, in_channels=coords + int(use_score))
    norm = NormalizeConfig(num_frames=num_frames, coords=coords, use_score=use_score, num_persons=num_persons)
    extra = {"min_confidence": 0.0, **(extra or {})}
    save_checkpoint(make_checkpoint(STFNet(cfg).eval(), LABELS, stream, norm, extra), path)
    return path


def _body() -> np.ndarray:
    kp = np.random.default_rng(0).uniform(-20, 20, (33, 2)).astype(np.float32)
    kp[[11, 12, 23, 24], 1] = [0, 0, 60, 60]  # shoulders above hips
    kp[[11, 12, 23, 24], 0] = [15, -15, 10, -10]
    return kp


BODY = _body()  # (33, 2) the same body every call, around (0, 0)


def mediapipe_person(phase: float, offset: tuple[float, float] = (100.0, 60.0), scale: float = 1.0) -> Person:
    """A standing MediaPipe-33 skeleton whose wrists swing with ``phase``."""
    kp = BODY.copy()
    kp[[15, 16], 1] += 25 * np.sin(phase)
    kp = kp * scale + np.asarray(offset, np.float32)
    return Person(keypoints=kp, scores=np.full(33, 0.9, np.float32), layout="mediapipe33")


class FakePose:
    """A PoseEstimator that finds one person (or ``people`` people side by side, or nobody) in every frame.

    The swing phase comes from the image's brightness when there is an image, so results follow the video.
    """

    layout = "mediapipe33"
    coords = 2

    def __init__(self, people: int = 1, delay: float = 0.0, nobody: bool = False) -> None:
        self.people = people
        self.delay = delay
        self.nobody = nobody
        self.calls = 0
        self.closed = False

    def __call__(self, frame: np.ndarray) -> list[Person]:
        self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        if self.nobody:
            return []
        phase = float(frame.mean()) / 10 if frame is not None else self.calls / 5
        return [mediapipe_person(phase, offset=(100.0 + 200 * i, 60.0)) for i in range(self.people)]

    def close(self) -> None:
        self.closed = True


def write_video(path: Path, frames: int = 40, fps: float = 20.0, size: tuple[int, int] = (160, 120)) -> Path:
    """A small MJPG .avi whose frame i is a flat grey of brightness ~ 4 i (decodable by OpenCV everywhere)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    assert writer.isOpened()
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), (4 * i) % 256, np.uint8))
    writer.release()
    return path


class FakeCapture:
    """A cv2.VideoCapture stand-in: a camera delivering a frame every ``period`` seconds, each stamped with its
    number in pixel (0, 0) (mod 256) and the full number in ``self.delivered``."""

    def __init__(self, period: float = 0.002, opened: bool = True, fail_after: int | None = None) -> None:
        self.period = period
        self.opened = opened
        self.fail_after = fail_after
        self.delivered = 0
        self.released = False

    def isOpened(self) -> bool:  # OpenCV's spelling
        return self.opened

    def read(self) -> tuple[bool, np.ndarray | None]:
        time.sleep(self.period)
        if self.fail_after is not None and self.delivered >= self.fail_after:
            return False, None
        image = np.zeros((8, 8, 3), np.uint8)
        image[0, 0, 0] = self.delivered % 256
        self.delivered += 1
        return True, image

    def get(self, prop: int) -> float:
        return 1.0 / self.period if prop == cv2.CAP_PROP_FPS else 0.0

    def set(self, prop: int, value: float) -> bool:
        return True

    def release(self) -> None:
        self.released = True


class AnnouncingPose(FakePose):
    """A slow FakePose that creates ``folder/started-<pid>`` when it is made (one per video), so a test in another
    process knows the work is under way."""

    def __init__(self, folder: str, delay: float = 0.05) -> None:
        super().__init__(delay=delay)
        (Path(folder) / f"started-{os.getpid()}").touch()
