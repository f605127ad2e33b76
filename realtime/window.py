"""A sliding window of one person's timestamped skeletons, resampled uniformly in time for the model.

    window = SkeletonWindow(duration=2.0)
    window.push(timestamp, keypoints, scores, frame_index)   # (V, C), (V,); copied
    if window.ready:
        snap = window.snapshot(num_frames=64)                # WindowSnapshot: (T, V, C), (T, V), times, span

The model is trained on sequences resampled to a fixed number of frames, so the window is resampled by time,
not by count: the same motion gives the same input at 15 or 60 camera fps, and dropped frames only lower the
detail. Sample k of T is at ``end - duration + (k + 1) * duration / T`` (the last sample is the newest frame);
each takes the frame nearest in time, and times before the oldest frame repeat the oldest frame.

Memory is bounded: frames older than ``duration`` (except the one just before the window, for the nearest
search) are dropped on every push, and ``max_frames`` caps the buffer whatever the timestamps do.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class WindowSnapshot:
    keypoints: np.ndarray  # (T, V, C)
    scores: np.ndarray  # (T, V)
    times: np.ndarray  # (T,) sample times, seconds
    span: tuple[float, float]  # (start, end) of the window, seconds
    newest_index: int  # frame index of the newest frame


class SkeletonWindow:
    def __init__(self, duration: float, min_coverage: float = 0.5, min_frames: int = 4,
                 max_frames: int = 4096) -> None:
        if duration <= 0:
            raise ValueError(f"window duration must be positive, got {duration}")
        self.duration = duration
        self.min_coverage = min_coverage  # fraction of ``duration`` that must be buffered before it is ready
        self.min_frames = min_frames
        self._times: deque[float] = deque(maxlen=max_frames)
        self._keypoints: deque[np.ndarray] = deque(maxlen=max_frames)
        self._scores: deque[np.ndarray] = deque(maxlen=max_frames)
        self._indices: deque[int] = deque(maxlen=max_frames)

    def __len__(self) -> int:
        return len(self._times)

    def clear(self) -> None:
        for buf in (self._times, self._keypoints, self._scores, self._indices):
            buf.clear()

    def push(self, timestamp: float, keypoints: np.ndarray, scores: np.ndarray, frame_index: int) -> None:
        if self._times and timestamp < self._times[-1]:
            self.clear()  # time went backwards: a new stream (a video restarted), not a continuation
        self._times.append(float(timestamp))
        self._keypoints.append(np.array(keypoints, dtype=np.float32))  # a copy: callers may reuse their arrays
        self._scores.append(np.array(scores, dtype=np.float32))
        self._indices.append(int(frame_index))
        # Drop frames before the window start, keeping the last one before it for the nearest-frame search.
        start = timestamp - self.duration
        while len(self._times) > 1 and self._times[1] <= start:
            for buf in (self._times, self._keypoints, self._scores, self._indices):
                buf.popleft()

    @property
    def newest_timestamp(self) -> float | None:
        return self._times[-1] if self._times else None

    def newest(self) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the newest keypoints ``(V, C)`` and scores ``(V,)``."""
        return self._keypoints[-1].copy(), self._scores[-1].copy()

    @property
    def coverage(self) -> float:
        """Seconds of the window that hold frames."""
        if not self._times:
            return 0.0
        return min(self._times[-1] - self._times[0], self.duration)

    @property
    def ready(self) -> bool:
        """Enough frames to classify: ``min_frames`` of them over ``min_coverage`` of the duration."""
        return len(self._times) >= self.min_frames and self.coverage >= self.min_coverage * self.duration - 1e-9

    def sample_times(self, num_frames: int, end: float | None = None) -> np.ndarray:
        end = self._times[-1] if end is None else end
        return end - self.duration + (np.arange(num_frames) + 1) * (self.duration / num_frames)

    def sample(self, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints ``(T, V, C)`` and scores ``(T, V)`` of the frames nearest to ``times``."""
        if not self._times:
            raise ValueError("the window is empty")
        stamps = np.fromiter(self._times, dtype=np.float64, count=len(self._times))
        right = np.clip(np.searchsorted(stamps, times), 1, len(stamps) - 1) if len(stamps) > 1 else None
        if right is None:
            idx = np.zeros(len(times), dtype=int)
        else:
            left = right - 1
            idx = np.where(np.abs(times - stamps[left]) <= np.abs(stamps[right] - times), left, right)
        keypoints, scores = np.stack(self._keypoints), np.stack(self._scores)  # (L, V, C), (L, V)
        return keypoints[idx], scores[idx]

    def snapshot(self, num_frames: int, end: float | None = None) -> WindowSnapshot:
        """The window resampled to ``num_frames`` frames ending at ``end`` (default: the newest frame)."""
        times = self.sample_times(num_frames, end)
        keypoints, scores = self.sample(times)
        end_time = float(times[-1])
        return WindowSnapshot(keypoints=keypoints, scores=scores, times=times,
                              span=(end_time - self.duration, end_time), newest_index=self._indices[-1])
