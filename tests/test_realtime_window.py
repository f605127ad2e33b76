"""Sliding window: keeps the last seconds, resamples uniformly in time, reports readiness, stays bounded."""

from __future__ import annotations

import numpy as np
import pytest

from realtime.window import SkeletonWindow


def _skeleton(t):
    kp = np.zeros((3, 2), np.float32)
    kp[:, 0] = np.sin(2 * np.pi * 0.5 * t)  # a slow wave, 0.5 Hz
    kp[:, 1] = t
    return kp, np.ones(3, np.float32)


def _fill(fps, seconds, duration=2.0):
    window = SkeletonWindow(duration)
    for i in range(int(seconds * fps) + 1):
        window.push(i / fps, *_skeleton(i / fps), i)
    return window


def test_snapshot_is_uniform_in_time_whatever_the_camera_fps():
    slow, fast = _fill(15, 4.0), _fill(60, 4.0)
    a, b = slow.snapshot(32), fast.snapshot(32)
    np.testing.assert_allclose(a.times, b.times)
    np.testing.assert_allclose(np.diff(a.times), 2.0 / 32)
    assert a.times[-1] == pytest.approx(4.0) and a.span == pytest.approx((2.0, 4.0))
    # Nearest frames are at most half a frame period away from the sample times, at 15 fps as at 60.
    assert np.abs(a.keypoints[:, 0, 1] - a.times).max() <= 0.5 / 15 + 1e-6
    np.testing.assert_allclose(a.keypoints[:, 0, 0], b.keypoints[:, 0, 0], atol=0.11)
    assert a.keypoints.shape == (32, 3, 2) and a.scores.shape == (32, 3)
    assert a.newest_index == 60 and b.newest_index == 240


def test_ready_only_once_enough_of_the_window_is_covered():
    window = SkeletonWindow(2.0, min_coverage=0.5, min_frames=4)
    for i in range(30):
        window.push(i / 30, *_skeleton(i / 30), i)
        assert window.ready == (i / 30 >= 1.0 - 1e-9)
    assert window.coverage == pytest.approx(29 / 30)
    early = window.snapshot(16)  # times before the first frame repeat it
    np.testing.assert_allclose(early.keypoints[:8, 0, 1], 0.0)


def test_old_frames_are_dropped_and_memory_stays_bounded():
    window = SkeletonWindow(1.0)
    for i in range(10_000):
        window.push(i / 30, *_skeleton(i / 30), i)
    assert len(window) <= 32  # one second at 30 fps, plus the frame before the window
    capped = SkeletonWindow(1.0, max_frames=50)
    for i in range(1000):
        capped.push(0.0, *_skeleton(0.0), i)  # a source whose clock is stuck
    assert len(capped) == 50


def test_pushed_arrays_are_copied_and_time_going_backwards_starts_over():
    window = SkeletonWindow(1.0)
    kp, sc = _skeleton(0.0)
    window.push(0.0, kp, sc, 0)
    kp[:] = 99
    assert window.newest()[0].max() < 99
    window.push(0.5, *_skeleton(0.5), 1)
    window.push(0.1, *_skeleton(0.1), 0)  # a restarted stream
    assert len(window) == 1 and window.newest_timestamp == 0.1
