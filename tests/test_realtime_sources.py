"""Sources: video files (every frame, paced, truncated), cameras (latest frame wins), OpenPose JSON, skeleton files."""

from __future__ import annotations

import json
import pickle
import time

import numpy as np
import pytest
from conftest import shared_path
from realtime_fakes import FakeCapture, write_video

from realtime.sources import (
    CameraSource,
    OpenPoseFolderSource,
    SkeletonFileSource,
    VideoSource,
    open_source,
    read_openpose_json,
)
from stfnet.errors import SourceError, UserError


def test_video_yields_every_frame_with_timestamps_from_index_and_fps(tmp_path):
    path = write_video(tmp_path / "clip.avi", frames=25, fps=20.0)
    with VideoSource(path) as source:
        frames = list(source)
    assert source.fps == pytest.approx(20.0) and source.frame_count == 25
    assert [f.index for f in frames] == list(range(25))
    assert [f.timestamp for f in frames] == pytest.approx([i / 20.0 for i in range(25)])
    assert frames[0].image.shape == (120, 160, 3) and frames[0].people is None


class FakeClock:
    """Time that passes only when the code under test sleeps or the test says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_paced_video_plays_in_real_time_and_skips_frames_a_slow_consumer_missed(tmp_path):
    path = write_video(tmp_path / "clip.avi", frames=30, fps=64.0)  # periods of 1/64 s: exact in binary
    clock = FakeClock()
    with VideoSource(path, pace=True, clock=clock, sleep=clock.sleep) as source:
        fast = [f.index for f in source]
    assert fast == list(range(30)) and clock.now == 30 / 64  # every frame, each waited for until its time
    clock = FakeClock()
    with VideoSource(path, pace=True, clock=clock, sleep=clock.sleep) as source:
        slow = []
        for frame in source:
            slow.append(frame.index)
            clock.now += 3 / 64  # three frame periods of work per frame
    # late by more than a period: skipped without decoding; so the consumer never falls behind
    assert slow == [0, 2, 5, 8, 11, 14, 17, 20, 23, 26, 29]


def test_missing_garbage_and_truncated_videos_raise_one_clear_sentence(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        VideoSource(tmp_path / "nope.mp4")
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"this is not a video" * 100)
    with pytest.raises(SourceError, match="cannot be read"):
        VideoSource(garbage)
    whole = write_video(tmp_path / "whole.avi", frames=60)
    cut = tmp_path / "cut.avi"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with VideoSource(cut) as source, pytest.raises(SourceError, match="truncated") as err:
        for _ in source:
            pass
    assert isinstance(err.value, UserError) and "\n" not in str(err.value)


def test_camera_that_does_not_open_raises_and_releases():
    capture = FakeCapture(opened=False)
    with pytest.raises(SourceError, match="camera 3 could not be opened"):
        CameraSource(3, capture_factory=lambda index: capture)
    assert capture.released


def test_real_camera_index_that_does_not_exist_raises():
    with pytest.raises(SourceError, match="camera 97 could not be opened"):
        CameraSource(97)


def test_camera_keeps_only_the_latest_frame_when_the_consumer_is_slow():
    capture = FakeCapture(period=0.002)
    with CameraSource(0, capture_factory=lambda index: capture) as source:
        seen = []
        for frame in source:
            seen.append(frame)
            deadline = time.monotonic() + 30  # only a hang takes this long
            while capture.delivered < frame.index + 7 and time.monotonic() < deadline:
                time.sleep(0.001)  # the consumer is busy while the camera delivers six more frames
            if len(seen) == 6:
                break
    indices = [f.index for f in seen]
    assert min(np.diff(indices)) >= 5  # the newest frame each time: the ones in between dropped, not queued
    # Each frame is the newest at the time it was taken, not an old one from a queue.
    assert all(int(f.image[0, 0, 0]) == f.index % 256 for f in seen)
    assert seen[0].timestamp == 0 and all(b.timestamp > a.timestamp for a, b in zip(seen, seen[1:], strict=False))
    assert capture.released


def test_camera_that_stops_delivering_raises():
    capture = FakeCapture(period=0.001, fail_after=3)
    with CameraSource(0, capture_factory=lambda index: capture) as source, pytest.raises(SourceError,
                                                                                         match="stopped"):
        for _ in source:
            time.sleep(0.01)


def _openpose_file(path, people):
    path.write_text(json.dumps({"version": 1.3, "people": [{"pose_keypoints_2d": p} for p in people]}))


def test_openpose_folder_detects_coco18_and_body25_and_sorts_frames_naturally(tmp_path):
    rng = np.random.default_rng(0)
    coco = np.c_[rng.uniform(0, 100, (18, 2)), np.full(18, 0.8)].ravel().tolist()
    body = np.c_[rng.uniform(0, 100, (25, 2)), np.full(25, 0.7)].ravel().tolist()
    nobody = [0.0] * 54
    _openpose_file(tmp_path / "clip_2_keypoints.json", [body])
    _openpose_file(tmp_path / "clip_10_keypoints.json", [coco, nobody])
    _openpose_file(tmp_path / "clip_1_keypoints.json", [])
    with open_source(tmp_path, fps=10.0) as source:
        assert isinstance(source, OpenPoseFolderSource) and source.frame_count == 3
        frames = list(source)
    assert [len(f.people) for f in frames] == [0, 1, 1]  # 1, 2, 10; the all-zero person is left out
    assert frames[1].people[0].layout == "body25" and frames[2].people[0].layout == "openpose18"
    assert frames[2].timestamp == pytest.approx(0.2)
    np.testing.assert_allclose(frames[2].people[0].keypoints, np.asarray(coco).reshape(18, 3)[:, :2])


def test_openpose_errors_name_the_file(tmp_path):
    with pytest.raises(SourceError, match="no OpenPose .json files"):
        OpenPoseFolderSource(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SourceError, match="bad.json"):
        read_openpose_json(bad)
    odd = tmp_path / "odd.json"
    _openpose_file(odd, [[1.0] * 60])
    with pytest.raises(SourceError, match="expected 54"):
        read_openpose_json(odd)


def _annotation(name, persons=1, frames=5, joints=18):
    kp = np.random.default_rng(0).uniform(0, 100, (persons, frames, joints, 2)).astype(np.float32)
    return {"frame_dir": name, "label": 0, "keypoint": kp, "keypoint_score": np.ones(kp.shape[:3], np.float32),
            "total_frames": frames}


def test_skeleton_file_plays_the_chosen_sample(tmp_path):
    path = tmp_path / "data.pkl"
    samples = [_annotation("a"), _annotation("b", persons=2, frames=7)]
    path.write_bytes(pickle.dumps({"split": {}, "annotations": samples}))
    with open_source(path, sample="b", fps=25.0) as source:
        assert isinstance(source, SkeletonFileSource) and source.frame_count == 7
        frames = list(source)
    assert len(frames) == 7 and len(frames[3].people) == 2 and frames[3].people[0].layout == "openpose18"
    np.testing.assert_array_equal(frames[3].people[1].keypoints, samples[1]["keypoint"][1, 3])
    assert frames[1].timestamp == pytest.approx(0.04)
    with pytest.raises(SourceError, match="holds 2 samples"):
        SkeletonFileSource(path)
    with pytest.raises(SourceError, match="no sample with frame_dir 'c'"):
        SkeletonFileSource(path, sample="c")
    with pytest.raises(SourceError, match="does not exist"):
        SkeletonFileSource(tmp_path / "missing.pkl")


def test_real_pyskl_sample_plays_as_coco17():
    with SkeletonFileSource(shared_path("data", "formats", "ucf101_example_skeleton.pkl")) as source:
        frames = list(source)
    assert len(frames) == 163 and frames[0].people[0].layout == "coco17"
    assert frames[0].people[0].keypoints.shape == (17, 2)


@pytest.mark.parametrize("reported", [0.01, 1e9])
def test_an_implausible_frame_rate_is_reported_and_can_be_overridden(tmp_path, capsys, reported):
    path = write_video(tmp_path / "clip.avi", frames=5, fps=reported)
    with VideoSource(path) as source:
        assert source.fps == 30.0
    err = capsys.readouterr().err
    assert "frames per second, which no camera records at; assuming 30 (give the real rate with --fps)" in err
    with open_source(str(path), fps=12.5) as source:
        assert source.fps == 12.5 and [f.timestamp for f in source][1] == pytest.approx(0.08)
    assert capsys.readouterr().err == ""
    with pytest.raises(SourceError, match="--fps 0.0 is not a frame rate"):
        open_source(str(path), fps=0.0)
