"""`main.py extract`: labelled video folders -> a dataset, with a fake pose estimator and once with MediaPipe."""

from __future__ import annotations

import os
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import shared_path

from main import main
from realtime.pose import Person
from stfnet.errors import UserError
from train.data.extract import ExtractConfig, extract_dataset, parts_folder
from train.data.format import load_dataset


class FakePose:
    """A pose 'estimator' whose single person moves with the frame's brightness; black frames show nobody."""

    layout = "mediapipe33"
    coords = 2
    calls = 0  # videos started in this process

    def __init__(self) -> None:
        type(self).calls += 1

    def __call__(self, frame: np.ndarray) -> list[Person]:
        level = float(frame.mean())
        if level < 5:
            return []
        keypoints = np.stack([np.linspace(10, 50, 33), np.full(33, level)], axis=1).astype(np.float32)
        return [Person(keypoints=keypoints, scores=np.ones(33, np.float32), layout="mediapipe33")]

    def close(self) -> None:
        pass


class InterruptingPose(FakePose):
    """Like FakePose, but the fourth video started is interrupted as by Ctrl-C."""

    def __init__(self) -> None:
        super().__init__()
        if type(self).calls == 4:
            raise KeyboardInterrupt


def write_video(path: Path, levels: list[int]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for level in levels:
        writer.write(np.full((48, 64, 3), level, np.uint8))
    writer.release()
    return path


def _videos(root: Path) -> None:
    for c, name in enumerate(["jump", "sit"]):
        for i in range(3):
            write_video(root / name / f"clip{i}.avi", [0] + [40 + 30 * c + 10 * i + k for k in range(5)])
    (root / "sit" / "notes.txt").write_text("not a video")
    (root / "empty_class").mkdir()


def test_extract_with_workers_builds_a_split_dataset(tmp_path):
    root, out = tmp_path / "videos", tmp_path / "data" / "mine.pkl"
    _videos(root)
    cfg = ExtractConfig(root=str(root), output=str(out), workers=2, val_fraction=0.34, seed=3)
    extract_dataset(cfg, estimator_factory=FakePose)
    data = load_dataset(out)
    assert data["classes"] == ["jump", "sit"] and data["layout"] == "openpose18" and data["fps"] == pytest.approx(10)
    assert len(data["split"]["all"]) == 6 and len(data["split"]["val"]) == 2 and len(data["split"]["train"]) == 4
    assert {n.split("/")[0] for n in data["split"]["val"]} == {"jump", "sit"}  # one of each class
    ann = {a["frame_dir"]: a for a in data["annotations"]}["sit/clip2.avi"]
    assert ann["label"] == 1 and ann["keypoint"].shape == (1, 6, 18, 2) and ann["img_shape"] == (48, 64)
    assert not ann["keypoint_score"][0, 0].any()  # black first frame: nobody
    assert ann["keypoint_score"][0, 1:].all()  # every openpose18 joint has a MediaPipe source
    assert ann["keypoint"][0, 1, 0, 1] == pytest.approx(90, abs=3)  # y follows the brightness (JPEG-rounded)
    assert sorted(p.name for p in (parts_folder(out) / "sit").iterdir()) == ["clip0.avi.npz", "clip1.avi.npz",
                                                                             "clip2.avi.npz"]
    again = ExtractConfig(root=str(root), output=str(out), workers=2, val_fraction=0.34, seed=3, clean=True)
    assert load_dataset(out)["split"] == extract_dataset(again, estimator_factory=FakePose)["split"]  # same seed
    assert not parts_folder(out).exists()


def test_interrupted_extraction_resumes_where_it_stopped(tmp_path):
    root, out = tmp_path / "videos", tmp_path / "mine.pkl"
    _videos(root)
    InterruptingPose.calls = 0
    with pytest.raises(KeyboardInterrupt):
        extract_dataset(ExtractConfig(root=str(root), output=str(out), workers=0),
                        estimator_factory=InterruptingPose)
    parts = sorted(parts_folder(out).rglob("*.npz"))
    assert [p.relative_to(parts_folder(out)).as_posix() for p in parts] == [
        "jump/clip0.avi.npz", "jump/clip1.avi.npz", "jump/clip2.avi.npz"]
    assert not out.exists() and not list(tmp_path.rglob(".*.tmp"))
    stamps = {p: p.stat().st_mtime_ns for p in parts}
    time.sleep(0.01)
    write_video(root / "jump" / "clip1.avi", [200] * 4)  # changed since its part was made: redone
    FakePose.calls = 0
    extract_dataset(ExtractConfig(root=str(root), output=str(out), workers=0), estimator_factory=FakePose)
    assert FakePose.calls == 4  # the three 'sit' videos and the changed one
    assert parts[0].stat().st_mtime_ns == stamps[parts[0]] and parts[2].stat().st_mtime_ns == stamps[parts[2]]
    assert parts[1].stat().st_mtime_ns != stamps[parts[1]]
    anns = {a["frame_dir"]: a for a in load_dataset(out)["annotations"]}
    assert len(anns) == 6 and anns["jump/clip1.avi"]["keypoint"].shape == (1, 4, 18, 2)


def test_bad_videos_are_skipped_or_stop_the_run(tmp_path, capsys):
    root, out = tmp_path / "videos", tmp_path / "out" / "mine.pkl"
    _videos(root)
    (root / "jump" / "broken.mp4").write_bytes(os.urandom(2000))
    write_video(root / "sit" / "dark.avi", [0, 0, 0])
    # One worker: with two, either bad video may fail first, and the first failure is the one reported.
    with pytest.raises(UserError, match="broken.mp4 cannot be read.*--on-error skip"):
        extract_dataset(ExtractConfig(root=str(root), output=str(out), workers=1, on_error="stop"),
                        estimator_factory=FakePose)
    assert not out.exists() and not list(out.parent.glob(".*.tmp"))
    data = extract_dataset(ExtractConfig(root=str(root), output=str(out), workers=2), estimator_factory=FakePose)
    err = capsys.readouterr().err
    assert "skipped: video file" in err and "broken.mp4" in err
    assert "skipped: sit/dark.avi: the pose estimator found nobody in any of its 3 frames" in err
    assert "2 of 8 videos skipped" in err and len(data["annotations"]) == 6


def test_cli_errors(tmp_path, capsys):
    assert main(["extract", str(tmp_path / "nowhere"), str(tmp_path / "o.pkl")]) == 2
    assert "video folder" in capsys.readouterr().err
    (tmp_path / "v" / "a").mkdir(parents=True)
    assert main(["extract", str(tmp_path / "v"), str(tmp_path / "o.pkl")]) == 2
    assert "no videos" in capsys.readouterr().err
    assert main(["extract", str(tmp_path / "v"), str(tmp_path / "o.pkl"), "--layout", "ntu25"]) == 2
    assert "cannot be remapped to layout 'ntu25'" in capsys.readouterr().err


@pytest.mark.slow
def test_real_mediapipe_on_a_real_video(tmp_path):
    video = shared_path("videos", "paddlevideo_example.avi")
    (tmp_path / "videos" / "archery").mkdir(parents=True)
    (tmp_path / "videos" / "archery" / video.name).symlink_to(video)
    out = tmp_path / "archery.pkl"
    assert main(["extract", str(tmp_path / "videos"), str(out), "--workers", "1", "--val-fraction", "0"]) == 0
    data = load_dataset(out)
    ann = data["annotations"][0]
    assert data["classes"] == ["archery"] and ann["keypoint"].shape == (1, 131, 18, 2)
    assert ann["img_shape"] == (240, 320) and data["fps"] == pytest.approx(25)
    seen = ann["keypoint_score"][0, :, 1] > 0  # the neck
    assert seen.mean() > 0.5
    neck = ann["keypoint"][0, seen, 1]
    assert (neck[:, 0] > 0).all() and (neck[:, 0] < 320).all() and (neck[:, 1] > 0).all() and (neck[:, 1] < 240).all()


def test_a_csv_of_spans_cuts_one_long_recording_into_labelled_samples(tmp_path):
    long = write_video(tmp_path / "rec" / "long.avi", [20 + i for i in range(60)])  # 6 s at 10 fps
    write_video(tmp_path / "rec" / "other.avi", [100] * 30)
    listing = tmp_path / "rec" / "spans.csv"
    listing.write_text("video,label,start_s,end_s\nlong.avi,wave,0.5,2.0\nlong.avi,clap,2.5,5.0\n"
                       "other.avi,wave,0,3\n")
    data = extract_dataset(ExtractConfig(root=str(listing), output=str(tmp_path / "d.pkl"), workers=0), FakePose)
    assert data["classes"] == ["clap", "wave"]
    samples = {a["frame_dir"]: a for a in data["annotations"]}
    assert sorted(samples) == ["long.avi@0.5-2s", "long.avi@2.5-5s", "other.avi@0-3s"]
    wave = samples["long.avi@0.5-2s"]
    assert wave["label"] == 1 and wave["keypoint"].shape[1] == 15 and wave["fps"] == 10.0
    assert wave["keypoint"][0, 0, 0, 1] == pytest.approx(25, abs=2)  # frame 5's brightness: the span's first frame
    assert samples["long.avi@2.5-5s"]["keypoint"].shape[1] == 25
    parts = list((tmp_path / "d.pkl.parts" / "videos").glob("*.npz"))
    assert len(parts) == 2 and long.exists()  # each video went through the pose estimator once
    assert load_dataset(tmp_path / "d.pkl")["split"]["all"] == [a["frame_dir"] for a in data["annotations"]]


@pytest.mark.parametrize("content, message", [
    ("video,label\nx.avi,wave\n", "lacks the column(s) end_s, start_s"),
    ("video,label,start_s,end_s\nmissing.avi,wave,0,1\n", "does not exist"),
    ("video,label,start_s,end_s\nlong.avi,wave,2,1\n", "is empty"),
    ("video,label,start_s,end_s\nlong.avi,wave,a,1\n", "must be numbers"),
])
def test_a_bad_span_list_is_one_sentence(tmp_path, capsys, content, message):
    write_video(tmp_path / "long.avi", [50] * 10)
    (tmp_path / "spans.csv").write_text(content)
    assert main(["extract", str(tmp_path / "spans.csv"), str(tmp_path / "d.pkl"), "--workers", "0"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and not (tmp_path / "d.pkl").exists()
