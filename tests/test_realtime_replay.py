"""`main.py replay`: timeline JSON/CSV and annotated video, atomic outputs, one-sentence errors; real MediaPipe."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import cv2
import pytest
from conftest import shared_path
from realtime_fakes import FakePose, mediapipe_person, tiny_checkpoint, write_video

import realtime.replay
import stfnet.shipped
from main import main
from realtime.engine import EngineConfig
from realtime.recognizer import Recognizer
from realtime.replay import replay_source


@pytest.fixture(scope="module")
def checkpoint_path(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


@pytest.fixture
def fake_pose(monkeypatch):
    pose = FakePose()
    monkeypatch.setattr(realtime.replay, "create_estimator", lambda model_path, max_people: pose)
    return pose


def _one_sentence(capsys):
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    return err


def test_ffmpeg_says_nothing_of_a_damaged_video_unless_verbose(tmp_path, checkpoint_path):
    """FFmpeg writes to the terminal itself, past Python's stderr, so only a separate process shows it."""
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00not a video" * 1000)  # FFmpeg's mp4 reader: "moov atom not found"
    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if k not in ("OPENCV_FFMPEG_LOGLEVEL", "STFNET_VERBOSE")}
    command = [sys.executable, str(root / "main.py"), "replay", str(garbage), "--checkpoint", str(checkpoint_path),
               "--out", str(tmp_path / "t.json")]
    quiet = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert quiet.returncode == 2
    assert quiet.stderr.strip().splitlines() == [f"error: video file {garbage} cannot be read; it is damaged or not "
                                                 f"a video format OpenCV can decode"]
    verbose = subprocess.run([*command, "--verbose"], env=env, capture_output=True, text=True, timeout=300)
    assert verbose.returncode == 2 and "moov atom not found" in verbose.stderr


def test_replay_writes_timeline_csv_and_annotated_video(tmp_path, checkpoint_path, fake_pose, capsys):
    video = write_video(tmp_path / "clip.avi", frames=60, fps=20.0)  # 3 s
    out = tmp_path / "out"
    code = main(["replay", str(video), "--checkpoint", str(checkpoint_path), "--out", str(out / "t.json"),
                 "--csv", str(out / "t.csv"), "--annotated", str(out / "a.mp4"), "--every-ms", "250", "--top-k", "3"])
    assert code == 0 and fake_pose.closed
    doc = json.loads((out / "t.json").read_text())
    assert doc["frames"] == 60 and doc["every_ms"] == 250 and doc["labels"][0] == "wave"
    predictions = doc["predictions"]
    assert [p["frame_index"] for p in predictions] == [5 * k for k in range(12)]  # every 250 ms at 20 fps
    assert predictions[0]["state"] == "warming_up" and predictions[0]["top_k"] == []
    last = predictions[-1]
    assert last["state"] == "ok" and last["time"] == pytest.approx(2.75) and len(last["top_k"]) == 3
    assert set(last["top_k"][0]) == {"label", "probability"}
    rows = list(csv.reader((out / "t.csv").open()))
    assert rows[0][:7] == ["time", "frame_index", "person_id", "state", "label", "label_1", "probability_1"]
    assert len(rows) == 13 and rows[-1][4] == last["label"] and rows[-1][5] == last["top_k"][0]["label"]
    assert last["people"][0]["person_id"] == last["person_id"] and last["people"][0]["label"] == last["label"]
    cap = cv2.VideoCapture(str(out / "a.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 60
    cap.release()
    assert sorted(p.name for p in out.iterdir()) == ["a.mp4", "t.csv", "t.json"]  # no temporary files left


def test_replay_timeline_is_deterministic(tmp_path, checkpoint_path, fake_pose):
    video = write_video(tmp_path / "clip.avi", frames=50)
    for name in ("a.json", "b.json"):
        assert main(["replay", str(video), "--checkpoint", str(checkpoint_path), "--out", str(tmp_path / name),
                     "--every-ms", "100"]) == 0
    a, b = (json.loads((tmp_path / n).read_text())["predictions"] for n in ("a.json", "b.json"))
    assert a == b


class InterruptingPose(FakePose):
    """A pose estimator during which the user presses Ctrl-C at the 20th frame."""

    def __call__(self, frame):
        if self.calls == 19:
            raise KeyboardInterrupt
        return super().__call__(frame)


def test_interrupted_replay_leaves_nothing_behind(tmp_path, checkpoint_path, monkeypatch, capsys):
    monkeypatch.setattr(realtime.replay, "create_estimator", lambda model_path, max_people: InterruptingPose())
    video = write_video(tmp_path / "clip.avi", frames=40)
    out = tmp_path / "out"
    out.mkdir()
    code = main(["replay", str(video), "--checkpoint", str(checkpoint_path), "--out", str(out / "t.json"),
                 "--csv", str(out / "t.csv"), "--annotated", str(out / "a.mp4")])
    assert code == 130 and "interrupted" in capsys.readouterr().err
    assert list(out.iterdir()) == []


def test_missing_unreadable_and_truncated_videos_exit_with_one_sentence(tmp_path, checkpoint_path, fake_pose,
                                                                        capsys):
    out = tmp_path / "t.json"
    assert main(["replay", str(tmp_path / "missing.mp4"), "--checkpoint", str(checkpoint_path),
                 "--out", str(out)]) == 2
    assert "missing.mp4 does not exist" in _one_sentence(capsys)
    garbage = tmp_path / "garbage.avi"
    garbage.write_bytes(b"\x00not a video" * 1000)
    assert main(["replay", str(garbage), "--checkpoint", str(checkpoint_path), "--out", str(out)]) == 2
    assert "cannot be read" in _one_sentence(capsys)
    whole = write_video(tmp_path / "whole.avi", frames=60)
    cut = tmp_path / "cut.avi"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    assert main(["replay", str(cut), "--checkpoint", str(checkpoint_path), "--out", str(out),
                 "--annotated", str(tmp_path / "a.mp4")]) == 2
    assert "truncated" in _one_sentence(capsys)
    assert not out.exists() and not (tmp_path / "a.mp4").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary files either


def test_camera_that_does_not_open_exits_with_one_sentence(tmp_path, checkpoint_path, capsys):
    assert main(["replay", "97", "--checkpoint", str(checkpoint_path), "--duration", "1",
                 "--out", str(tmp_path / "t.json")]) == 2
    assert "camera 97 could not be opened" in _one_sentence(capsys)


def test_checkpoint_the_pose_backend_cannot_feed_exits_with_one_sentence(tmp_path, fake_pose, capsys):
    ntu = tiny_checkpoint(tmp_path / "ntu.pt", layout="ntu25", coords=3, use_score=False)
    video = write_video(tmp_path / "clip.avi", frames=5)
    assert main(["replay", str(video), "--checkpoint", str(ntu), "--out", str(tmp_path / "t.json")]) == 2
    assert "layout 'ntu25'" in _one_sentence(capsys)


def test_without_a_model_uses_the_default_or_says_it_is_missing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(stfnet.shipped, "ASSETS", tmp_path / "assets")
    video = write_video(tmp_path / "clip.avi", frames=5)
    assert main(["replay", str(video), "--out", str(tmp_path / "t.json")]) == 2
    err = _one_sentence(capsys)
    assert "default model" in err and "is not installed" in err and "--model" in err


def test_an_unknown_model_name_gives_one_sentence_and_exit_2(tmp_path, capsys):
    video = write_video(tmp_path / "clip.avi", frames=5)
    for command in (["replay", str(video), "--out", str(tmp_path / "t.json")], ["export", "--format", "onnx"],
                    ["eval", "--data", str(tmp_path / "d.pkl"), "--split", "test"]):
        assert main([*command, "--model", "no-such-model"]) == 2
        err = _one_sentence(capsys)
        assert "unknown model 'no-such-model'" in err and "gestures" in err
        assert main([*command, "--model", str(tmp_path)]) == 2
        assert _one_sentence(capsys) == f"error: {tmp_path} is a folder, not a checkpoint file"
    assert not (tmp_path / "t.json").exists()


@pytest.mark.slow
def test_real_video_with_mediapipe(tmp_path, checkpoint_path):
    video = shared_path("videos", "stgcn_ta_chi.mp4")
    assert main(["replay", str(video), "--checkpoint", str(checkpoint_path), "--out", str(tmp_path / "t.json"),
                 "--annotated", str(tmp_path / "a.mp4")]) == 0
    doc = json.loads((tmp_path / "t.json").read_text())
    states = [p["state"] for p in doc["predictions"]]
    assert doc["frames"] == 300 and len(states) == 50 and states.count("ok") >= 40


@pytest.mark.slow
def test_video_without_people_gives_no_person_entries_not_an_error(tmp_path, checkpoint_path):
    video = shared_path("videos", "opencv_vtest.avi")
    # Only far-away pedestrians (10-25 % of the frame's height) for the first 56 s: below the minimum person
    # height, so nobody is found; at 57 s two people walk into the foreground and are rightly found.
    assert main(["replay", str(video), "--checkpoint", str(checkpoint_path), "--out", str(tmp_path / "t.json"),
                 "--duration", "55"]) == 0
    predictions = json.loads((tmp_path / "t.json").read_text())["predictions"]
    assert len(predictions) == 276 and {p["state"] for p in predictions} == {"no_person"}
    assert all(p["top_k"] == [] for p in predictions)


class _LongStream:
    """A keypoint source of ``frames`` frames at 30 fps, one person waving: a long replay without video."""

    fps, live, has_images = 30.0, False, False

    def __init__(self, frames: int) -> None:
        self.frame_count = frames

    def __iter__(self):
        from realtime.sources import Frame

        for i in range(self.frame_count):
            yield Frame(i, i / self.fps, people=(mediapipe_person(i / 5),))

    def close(self) -> None:
        pass


def test_memory_of_a_long_replay_grows_only_by_its_timeline(checkpoint_path):
    """Each kept prediction costs a few KiB (its label, probabilities and skeleton), not its attention maps
    (28 KiB for this tiny model, 98 KiB for the shipped one): an hour's replay once kept 1.1 GB of maps."""
    recognizer = Recognizer.from_file(checkpoint_path, device="cpu")
    config = EngineConfig(mode="replay", every_ms=500)
    replay_source(_LongStream(300), recognizer, None, config, progress=False)  # warm up: caches, lazy imports
    tracemalloc.start()
    timeline, frames = replay_source(_LongStream(3_000), recognizer, None, config, progress=False)  # 100 s
    growth = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert frames == 3_000 and len(timeline) == 200 and timeline[-1].state == "ok"
    assert all(not p.mcf_maps and not p.tdf_weights for p in timeline)
    per_prediction = growth / len(timeline)
    assert per_prediction < 4 * 1024, f"{per_prediction / 1024:.1f} KiB kept per prediction"
