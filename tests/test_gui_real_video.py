"""The window on a real video with the real MediaPipe backend, a screenshot, and the command line."""

from __future__ import annotations

import pytest
from conftest import shared_path
from gui_fakes import grey_video, open_window, small_checkpoint
from PyQt6.QtGui import QImage

from main import main
from realtime.gui.worker import WorkerConfig


@pytest.mark.slow
def test_a_real_video_with_mediapipe_renders_and_saves_a_screenshot(qtbot, tmp_path):
    video = shared_path("videos", "stgcn_ta_chi.mp4")
    checkpoint = small_checkpoint(tmp_path / "small.pt")
    window = open_window(qtbot, WorkerConfig(every_ms=100), video=str(video), checkpoint=str(checkpoint))
    window.resize(1360, 820)
    frames = []
    window.worker.frame_ready.connect(frames.append)
    qtbot.waitUntil(lambda: window.prediction is not None and window.prediction.state == "ok"
                    and sum(bool(f.pose.people) for f in frames) >= 15, timeout=30_000)
    with_people = [f for f in frames if f.pose.people]
    assert len(with_people) >= 0.6 * len(frames)  # MediaPipe finds the tai chi player in most frames
    person = with_people[-1].pose.people[0]
    height, width = with_people[-1].image.shape[:2]
    seen = person.keypoints[person.scores > 0]
    assert (width, height) == (340, 256) and len(seen) >= 10
    assert (seen[:, 0].min() >= 0) and seen[:, 0].max() <= width and seen[:, 1].max() <= height
    assert window.maps.images() and window.temporal.curve_data()[1].size > 0

    out = tmp_path / "screenshot.png"
    assert window.grab().save(str(out))
    image = QImage(str(out))
    assert not image.isNull() and (image.width(), image.height()) == (window.width(), window.height())


@pytest.mark.slow
def test_the_command_saves_a_screenshot_headless_and_quits(qapp, tmp_path):
    # qapp: the command reuses the test session's QApplication (a second one after the first is destroyed
    # would leave later tests without working cross-thread signals).
    video = grey_video(tmp_path / "grey.avi", frames=60)
    checkpoint = small_checkpoint(tmp_path / "small.pt")
    out = tmp_path / "shots" / "window.png"
    code = main(["gui", "--video", str(video), "--checkpoint", str(checkpoint), "--screenshot", str(out),
                 "--quit-after", "2"])
    assert code == 0 and not QImage(str(out)).isNull()
    assert main(["gui", "--quit-after", "0"]) == 2  # a usage mistake: one sentence, exit code 2
