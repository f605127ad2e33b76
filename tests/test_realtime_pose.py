"""Pose glue: MediaPipe landmarks -> people, remap to the model's layout, feedability, tracking; real MediaPipe."""

from __future__ import annotations

import os
import time
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from conftest import shared_path
from realtime_fakes import mediapipe_person

from realtime.pose import (
    MediaPipeLandmarker,
    Person,
    big_enough,
    check_feedable,
    people_from_landmarker_result,
    person_from_landmarks,
    to_layout,
)
from realtime.tracker import Tracker
from stfnet.errors import CheckpointError, SourceError
from stfnet.layouts import get_layout


def _landmarks(n=33, x=0.5, y=0.25, visibility=0.9):
    return [SimpleNamespace(x=x + 0.001 * i, y=y, visibility=visibility) for i in range(n)]


def test_landmarks_become_pixels_and_low_visibility_scores_zero():
    lms = _landmarks()
    lms[3].visibility, lms[4].visibility = 0.2, None
    person = person_from_landmarks(lms, width=200, height=100)
    assert person.layout == "mediapipe33" and person.keypoints.shape == (33, 2)
    np.testing.assert_allclose(person.keypoints[0], [100.0, 25.0], rtol=1e-6)
    assert person.scores[3] == 0 and person.scores[4] == 1.0 and person.scores[0] == pytest.approx(0.9)


def test_landmarker_result_gives_one_person_per_pose():
    result = SimpleNamespace(pose_landmarks=[_landmarks(x=0.2), _landmarks(x=0.7)])
    people = people_from_landmarker_result(result, width=100, height=100)
    assert len(people) == 2 and people[1].keypoints[0, 0] == pytest.approx(70.0)
    assert people_from_landmarker_result(SimpleNamespace(pose_landmarks=[]), 100, 100) == []


def test_landmarker_without_task_file_says_so(tmp_path):
    with pytest.raises(SourceError, match=r"\.task"):
        MediaPipeLandmarker(tmp_path / "pose_landmarker.task")


def test_remap_to_openpose18_keeps_per_joint_scores():
    person = mediapipe_person(0.0)
    person.scores[12] = 0.0  # right shoulder unseen
    kp, sc = to_layout(person, get_layout("openpose18"))
    assert kp.shape == (18, 2) and sc.shape == (18,)
    np.testing.assert_allclose(kp[1], person.keypoints[[11, 12]].mean(axis=0))  # neck between the shoulders
    assert sc[2] == 0 and sc[1] == 0 and sc[5] == pytest.approx(0.9)  # r_shoulder and the neck built from it


def test_layouts_mediapipe_cannot_feed_fail_in_one_sentence():
    check_feedable("mediapipe33", 2, get_layout("openpose18"), 2)
    check_feedable("mediapipe33", 2, get_layout("coco17"), 2)
    with pytest.raises(CheckpointError, match="layout 'ntu25'.*openpose18, penn13 or coco17") as err:
        check_feedable("mediapipe33", 2, get_layout("ntu25"), 3)
    assert "\n" not in str(err.value)
    with pytest.raises(CheckpointError, match="3D keypoints"):
        check_feedable("mediapipe33", 2, get_layout("openpose18"), 3)


def _person_at(x, y, spread=20.0):
    kp = np.array([[x - spread, y - spread], [x + spread, y + spread], [x, y]], np.float32)
    return kp, np.ones(3, np.float32)


def test_tracker_keeps_ids_when_people_move_and_swap_order():
    tracker = Tracker(max_people=2)
    a, b = _person_at(50, 50), _person_at(300, 50)
    first = tracker.update([a[0], b[0]], [a[1], b[1]], 0.0).ids
    for t in range(1, 10):
        a, b = _person_at(50 + 3 * t, 50), _person_at(300 - 3 * t, 50)
        ids = tracker.update([b[0], a[0]], [b[1], a[1]], t / 30).ids  # detector returns them in another order
        assert ids == [first[1], first[0]]


def test_tracker_drops_lost_people_and_keeps_the_most_confident():
    tracker = Tracker(max_people=1, lost_after=0.5)
    kp, sc = _person_at(50, 50)
    weak_kp, weak_sc = _person_at(300, 300)
    update = tracker.update([weak_kp, kp], [weak_sc * 0.3, sc], 0.0)
    assert update.ids[0] is None and update.ids[1] == 0
    assert tracker.update([], [], 0.4).lost == []
    assert tracker.update([], [], 0.6).lost == [0] and tracker.ids == []
    assert tracker.update([kp], [sc], 0.7).ids == [1]  # a new track: ids are never reused
    far_kp, far_sc = _person_at(600, 600)
    assert tracker.update([far_kp], [far_sc], 0.75).ids == [2]  # too far to be the same person


@pytest.mark.slow
def test_mediapipe_finds_the_person_in_a_real_video(capfd, monkeypatch):
    from realtime.pose import MediaPipePose

    monkeypatch.delenv("STFNET_VERBOSE", raising=False)

    cap = cv2.VideoCapture(str(shared_path("videos", "stgcn_ta_chi.mp4")))
    estimator = MediaPipePose()
    time.sleep(1)  # MediaPipe's threads would announce its networks now, outside any frame
    found = []
    try:
        for _ in range(30):
            ok, frame = cap.read()
            assert ok
            found.append(estimator(frame))
    finally:
        estimator.close()
        cap.release()
    # MediaPipe's start-up notes (written from its own threads, after the constructor returns) stay off the terminal
    assert capfd.readouterr().err == ""
    people = [p for frame_people in found for p in frame_people]
    assert len(people) >= 25 and all(len(f) <= 1 for f in found)
    person = people[-1]
    assert person.layout == "mediapipe33" and person.keypoints.shape == (33, 2)
    seen = person.keypoints[person.scores > 0]
    assert len(seen) >= 10 and (seen[:, 0] > 0).all() and (seen[:, 0] < frame.shape[1]).all()
    kp, sc = to_layout(person, get_layout("openpose18"))
    assert kp.shape == (18, 2) and sc[1] > 0  # the neck is seen


def test_people_too_small_in_the_frame_are_ignored():
    keypoints = np.zeros((33, 2), np.float32)
    keypoints[:, 1] = np.linspace(100, 200, 33)  # spans 100 px
    scores = np.ones(33, np.float32)
    person = Person(keypoints, scores, "mediapipe33")
    assert big_enough(person, (300, 400, 3), min_size=0.3)
    assert not big_enough(person, (400, 600, 3), min_size=0.3)
    scores[20:] = 0  # the lowest joints unseen: the seen ones span less
    assert not big_enough(Person(keypoints, scores, "mediapipe33"), (300, 400, 3), min_size=0.3)


def test_a_person_lying_horizontally_is_found_like_one_standing():
    standing = np.zeros((33, 2), np.float32)
    standing[:, 1] = np.linspace(100, 260, 33)  # 160 px tall, 0 px wide
    lying = standing[:, ::-1].copy()  # the same body turned by 90 degrees: 160 px wide, 0 px tall
    scores = np.ones(33, np.float32)
    for keypoints in (standing, lying):
        assert big_enough(Person(keypoints, scores, "mediapipe33"), (360, 640, 3), min_size=0.3)  # 160 >= 108
    # A portrait frame: the shorter side is the width.
    assert not big_enough(Person(lying, scores, "mediapipe33"), (1280, 720, 3), min_size=0.3)  # 160 < 216


def test_native_log_lines_are_silenced_unless_verbose(capfd, monkeypatch):
    from realtime.pose import quiet_native_logs

    monkeypatch.delenv("STFNET_VERBOSE", raising=False)
    with quiet_native_logs():
        os.write(2, b"W0000 native chatter\n")  # as MediaPipe's C++ code writes: straight to file descriptor 2
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"
    monkeypatch.setenv("STFNET_VERBOSE", "1")
    with quiet_native_logs():
        os.write(2, b"shown\n")
    assert capfd.readouterr().err == "shown\n"
