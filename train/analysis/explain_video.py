"""Windows of a video for `main.py explain --video`: the live pose estimator on every frame, then windows cut
and resampled exactly as the app cuts them (``realtime.window.SkeletonWindow``, the checkpoint's duration).

Which windows: by default one, centred on the middle of the video (or the whole video, when it is shorter than
a window); with ``every`` one window ending every ``every`` seconds, from the first full window to the end.
Frames where nobody is found are left out, as the app leaves them out of a window; in frames with several
people the most confident one (highest summed keypoint score) is kept.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from realtime.pose import check_feedable, create_estimator, to_layout
from realtime.recognizer import Recognizer
from realtime.sources import open_source
from realtime.window import SkeletonWindow, WindowSnapshot
from stfnet.checkpoint import Checkpoint
from stfnet.errors import SourceError
from stfnet.layouts import Layout


@dataclass
class Track:
    """The kept person of every frame where someone was found, in the model's layout."""

    times: list[float]  # stream seconds
    indices: list[int]  # frame indices
    keypoints: list[np.ndarray]  # (V, C) each
    scores: list[np.ndarray]  # (V,) each


def track_person(video: str | Path, layout: Layout, coords: int, pose_model: str | Path | None = None,
                 estimator: Any = None) -> Track:
    track = Track([], [], [], [])
    with ExitStack() as stack:
        source = stack.enter_context(open_source(str(video)))
        if source.live:
            raise SourceError(f"{video} is a camera; explain --video takes a video file")
        if source.has_images and estimator is None:
            estimator = create_estimator(pose_model)
            stack.callback(estimator.close)
        if source.has_images:  # fail before decoding the whole video
            check_feedable(estimator.layout, estimator.coords, layout, coords)
        for frame in tqdm(source, total=source.frame_count, unit="frame", desc="pose", disable=None):
            people = frame.people if frame.people is not None else estimator(frame.image)
            if not people:
                continue
            check_feedable(people[0].layout, people[0].keypoints.shape[-1], layout, coords)
            keypoints, scores = max((to_layout(p, layout) for p in people), key=lambda r: float(r[1].sum()))
            track.times.append(frame.timestamp)
            track.indices.append(frame.index)
            track.keypoints.append(keypoints)
            track.scores.append(scores)
    if not track.times:
        raise SourceError(f"no person was found in any frame of {video}")
    return track


def window_ends(times: list[float], duration: float, every: float | None) -> list[float]:
    """End times of the windows to explain (see the module docstring)."""
    first, last = times[0], times[-1]
    if every is None:
        return [min(max((first + last + duration) / 2, first + duration), last)]
    ends = np.arange(first + duration, last + 1e-9, every)
    return [float(e) for e in ends] if len(ends) else [last]


def window_at(track: Track, end: float, duration: float, num_frames: int) -> WindowSnapshot:
    """The window ending at ``end``, resampled to ``num_frames`` as the live window resamples it."""
    window = SkeletonWindow(duration, min_coverage=0.0, min_frames=1)
    for t, index, keypoints, scores in zip(track.times, track.indices, track.keypoints, track.scores, strict=True):
        if t > end + 1e-9:
            break
        window.push(t, keypoints, scores, index)
    return window.snapshot(num_frames, end=end)


def video_windows(ckpt: Checkpoint, video: str | Path, every: float | None, pose_model: str | Path | None = None,
                  estimator: Any = None) -> tuple[list[WindowSnapshot], Recognizer]:
    """The windows to explain and the recognizer that prepares them as the app does (CPU, torch's threads)."""
    recognizer = Recognizer(ckpt, device="cpu", threads=torch.get_num_threads())
    track = track_person(video, recognizer.layout, recognizer.norm.coords, pose_model, estimator)
    duration = recognizer.window_seconds
    ends = window_ends(track.times, duration, every)
    return [window_at(track, end, duration, recognizer.num_frames) for end in ends], recognizer
