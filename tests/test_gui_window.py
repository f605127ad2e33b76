"""The live window driven by a fake camera / a small video file, a fake pose estimator and a real small model."""

from __future__ import annotations

import csv
import json
import threading
import time

import numpy as np
import pytest
from gui_fakes import (
    LABELS,
    StallingCapture,
    ThresholdPose,
    config,
    fake_camera,
    fake_pose_factory,
    grey_video,
    open_window,
    running_thread_names,
    small_checkpoint,
    split_video,
)
from PyQt6.QtGui import QImage
from realtime_fakes import FakeCapture

import stfnet.shipped
from realtime.gui import present
from stfnet.checkpoint import load_checkpoint, save_checkpoint

HANG = 30.0  # seconds after which closing counts as hung rather than slow
WAIT_MS = 30_000  # waits end as soon as their condition holds; this long only when something hangs


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return small_checkpoint(tmp_path_factory.mktemp("gui") / "small.pt")


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return grey_video(tmp_path_factory.mktemp("gui") / "grey.avi")


def _record(signal) -> list:
    received: list = []
    signal.connect(received.append)  # a plain callable: PyQt runs it on this (GUI) thread, queued
    return received


def _ok(window) -> bool:
    return window.prediction is not None and window.prediction.state == "ok"


def _pause_and_settle(qtbot, window, arrivals) -> None:
    """Pause, then wait until nothing more arrives on ``arrivals`` (predictions or frames: the model only runs
    on new frames)."""
    window.transport.play_pause.click()
    qtbot.waitUntil(lambda: not window.transport._playing, timeout=WAIT_MS)
    count = -1
    while count != len(arrivals):
        count = len(arrivals)
        qtbot.wait(300)


def test_labels_heatmaps_and_curve_show_the_models_outputs(qtbot, checkpoint, video):
    window = open_window(qtbot, config(), video=str(video), checkpoint=str(checkpoint))
    predictions = _record(window.worker.prediction_ready)
    window.transport.loop.setChecked(True)
    qtbot.waitUntil(lambda: _ok(window), timeout=WAIT_MS)
    _pause_and_settle(qtbot, window, predictions)
    shown = window.prediction
    assert shown is predictions[-1].prediction and shown.state == "ok"

    # Labels: the bars are the prediction's top-k, which are real softmax outputs of the 5-class model.
    assert window.bars.items() == list(shown.top_k) and len(shown.top_k) == len(LABELS)
    assert {label for label, _ in shown.top_k} == set(LABELS)
    assert sum(p for _, p in shown.top_k) == pytest.approx(1.0, abs=1e-4)
    assert window.history_strip.segments()[-1][2] == shown.top_k[0][0]
    # Heatmaps: the deepest block by default, one map per grain (joints, then the six parts).
    assert window.maps.selector.current_layer() == 9
    images = window.maps.images()
    assert [m.shape for m in images] == [(18, 18), (18, 6)]
    for image, expected in zip(images, shown.mcf_maps[9], strict=True):
        np.testing.assert_array_equal(image, expected)
        np.testing.assert_allclose(image.sum(axis=1), 1.0, atol=1e-3)  # softmax over the parts, per joint
    # Temporal curve: the mean over channels of the chosen layer's TDF weights, one point per frame.
    layer = window.temporal.selector.current_layer()
    assert layer == max(shown.tdf_weights)
    x, y = window.temporal.curve_data()
    profile = shown.tdf_weights[layer].mean(axis=0)
    np.testing.assert_allclose(y, profile / profile.mean() - 1, atol=1e-6)  # relative to the mean
    assert x.size == shown.tdf_weights[layer].shape[1] and x[-1] <= 0 and np.all(np.diff(x) > 0)
    # Joints on the video: coloured by the prediction's joint attention.
    np.testing.assert_allclose(window.video.attention(), present.joint_colouring(shown, "evidence"))
    window.action_colour_attention.setChecked(True)
    np.testing.assert_allclose(window.video.attention(), present.joint_colouring(shown, "attention"))
    assert window._latency_label.text().startswith("inference") and "cpu" in window._device_label.text()


def test_block_and_layer_selectors_change_what_is_shown(qtbot, checkpoint, video):
    window = open_window(qtbot, config(), video=str(video), checkpoint=str(checkpoint))
    predictions = _record(window.worker.prediction_ready)
    qtbot.waitUntil(lambda: _ok(window), timeout=WAIT_MS)
    _pause_and_settle(qtbot, window, predictions)
    shown = window.prediction
    for block in (4, 6, 9):
        window.maps.selector.select_layer(block)
        for image, expected in zip(window.maps.images(), shown.mcf_maps[block], strict=True):
            np.testing.assert_array_equal(image, expected)
    assert not np.array_equal(shown.mcf_maps[4][0], shown.mcf_maps[9][0])
    for layer in (1, 5, 9):
        window.temporal.selector.select_layer(layer)
        profile = shown.tdf_weights[layer].mean(axis=0)
        np.testing.assert_allclose(window.temporal.curve_data()[1], profile / profile.mean() - 1, atol=1e-6)
    assert window.temporal.curve_data()[1].size == shown.tdf_weights[9].shape[1] < shown.tdf_weights[1].shape[1]


def test_pause_stops_frames_play_resumes_and_seek_moves(qtbot, checkpoint, video):
    window = open_window(qtbot, config(), video=str(video), checkpoint=str(checkpoint))
    frames = _record(window.worker.frame_ready)
    qtbot.waitUntil(lambda: len(frames) > 5, timeout=WAIT_MS)
    _pause_and_settle(qtbot, window, frames)  # frames already on their way have arrived
    paused_at = len(frames)
    qtbot.wait(500)
    assert len(frames) == paused_at  # no frame while paused

    window.transport.slider.setValue(100)  # as a click on the slider does
    qtbot.waitUntil(lambda: frames[-1].position == 100, timeout=WAIT_MS)
    assert window.transport.slider.value() == 100 and "00:05.0" in window.transport.time.text()
    assert abs(float(frames[-1].image.mean()) - 200) < 6  # frame 100 of the grey ramp (2 i), MJPG-lossy
    qtbot.wait(300)
    assert frames[-1].position == 100  # still paused

    window.transport.play_pause.click()  # play
    qtbot.waitUntil(lambda: frames[-1].position > 103, timeout=WAIT_MS)
    seeked = len(frames)
    window.transport.slider.setValue(10)  # seek back while playing
    qtbot.waitUntil(lambda: any(10 <= f.position < 30 for f in frames[seeked:]), timeout=WAIT_MS)


def test_mirror_flips_the_picture(qtbot, checkpoint, tmp_path):
    window = open_window(qtbot, config(), video=str(split_video(tmp_path / "split.avi")), checkpoint=str(checkpoint))
    frames = _record(window.worker.frame_ready)
    qtbot.waitUntil(lambda: len(frames) > 2, timeout=WAIT_MS)
    window.transport.play_pause.click()

    def brightness(mirrored: bool) -> tuple[int, int]:
        window.pose_controls.mirror.setChecked(mirrored)  # the toolbar checkbox
        image = window.video.grab().toImage()
        y, w = image.height() // 2, image.width()
        return image.pixelColor(w // 2 - 40, y).value(), image.pixelColor(w // 2 + 40, y).value()

    left, right = brightness(False)
    assert left < 60 and right > 200
    left, right = brightness(True)
    assert left > 200 and right < 60
    assert window.video.is_mirrored() and window.action_mirror.isChecked()
    window.action_mirror.setChecked(False)  # the View menu does the same
    assert not window.video.is_mirrored() and not window.pose_controls.mirror.isChecked()


def test_hiding_the_video_leaves_a_blank_canvas(qtbot, checkpoint, tmp_path):
    window = open_window(qtbot, config(), video=str(split_video(tmp_path / "split.avi")), checkpoint=str(checkpoint))
    frames = _record(window.worker.frame_ready)
    qtbot.waitUntil(lambda: len(frames) > 2, timeout=WAIT_MS)
    window.transport.play_pause.click()

    def bright_pixels() -> int:
        image = window.video.grab().toImage().convertToFormat(QImage.Format.Format_Grayscale8)
        gray = np.frombuffer(image.constBits().asstring(image.sizeInBytes()), np.uint8)
        return int((gray > 200).sum())

    shown = bright_pixels()  # the white half of the picture
    window.action_show_video.setChecked(False)
    assert bright_pixels() < 0.05 * shown  # only the skeleton is left on a dark canvas
    window.action_show_video.setChecked(True)
    assert bright_pixels() == pytest.approx(shown, rel=0.05)


def test_export_writes_the_timeline_and_a_screenshot(qtbot, checkpoint, video, tmp_path):
    window = open_window(qtbot, config(), video=str(video), checkpoint=str(checkpoint))
    predictions = _record(window.worker.prediction_ready)
    qtbot.waitUntil(lambda: sum(p.prediction.state == "ok" for p in predictions) >= 3, timeout=WAIT_MS)
    _pause_and_settle(qtbot, window, predictions)

    assert window.export_timeline(tmp_path / "timeline.json")
    document = json.loads((tmp_path / "timeline.json").read_text())
    assert document["labels"] == LABELS and document["source"] == "grey.avi" and document["fps"] == 20.0
    records = document["predictions"]
    assert len(records) == len(predictions) and records[-1]["frame_index"] == predictions[-1].prediction.frame_index
    ok = [r for r in records if r["state"] == "ok"]
    assert len(ok) >= 3 and ok[-1]["top_k"][0]["label"] == window.prediction.top_k[0][0]

    assert window.export_timeline(tmp_path / "timeline.csv")
    with (tmp_path / "timeline.csv").open() as f:
        rows = list(csv.reader(f))
    assert rows[0][:7] == ["time", "frame_index", "person_id", "state", "label", "label_1", "probability_1"]
    assert len(rows) == len(records) + 1 and rows[-1][5] == window.prediction.top_k[0][0]

    assert window.save_screenshot(tmp_path / "shot.png")
    image = QImage(str(tmp_path / "shot.png"))
    assert not image.isNull() and image.width() == window.width()
    assert not window.export_timeline(tmp_path / "shot.png" / "timeline.json")  # a file is in the way
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shot.png", "timeline.csv", "timeline.json"]  # no temps


def test_closing_stops_every_thread_and_releases_the_camera(qtbot, checkpoint):
    before = {t.native_id for t in threading.enumerate()}
    capture = FakeCapture(period=1 / 30)
    window = open_window(qtbot, config(camera=fake_camera(capture)), checkpoint=str(checkpoint))
    qtbot.waitUntil(lambda: _ok(window), timeout=WAIT_MS)
    thread = window._capture_thread
    assert thread.isRunning() and "stfnet-model" in running_thread_names(before)
    started = time.monotonic()
    window.close()
    assert time.monotonic() - started < HANG  # it returns (no budget: a loaded machine may take seconds)
    assert not thread.isRunning() and thread.isFinished()
    assert capture.released
    assert [t.name for t in threading.enumerate() if t.native_id not in before and t.is_alive()
            and not isinstance(t, threading._DummyThread)] == []  # camera grabber and model thread joined
    # The capture QThread has finished its work; give the OS a moment to reap it.
    qtbot.waitUntil(lambda: running_thread_names(before) == [], timeout=WAIT_MS)


def test_no_camera_and_no_default_model_keep_the_window_usable(qtbot, checkpoint, video, tmp_path, monkeypatch):
    monkeypatch.setattr(stfnet.shipped, "ASSETS", tmp_path / "no-assets")
    window = open_window(qtbot, config())
    qtbot.waitUntil(lambda: "source" in window.notices and "model" in window.notices, timeout=WAIT_MS)
    overlay = window.video.overlay_text()
    assert "No camera found — open a video file (File > Open video)" in overlay
    assert "not installed" in overlay and "File > Open checkpoint" in overlay
    assert window.bars.caption() == "no model loaded"

    window.open_checkpoint(str(checkpoint))
    window.open_video(str(video))
    qtbot.waitUntil(lambda: _ok(window), timeout=WAIT_MS)
    assert window.notices == {} and window.video.overlay_text() == ""


def test_a_camera_that_fails_mid_run_is_reported(qtbot, checkpoint):
    capture = FakeCapture(period=0.01, fail_after=20)
    window = open_window(qtbot, config(camera=fake_camera(capture)), checkpoint=str(checkpoint))
    qtbot.waitUntil(lambda: "source" in window.notices, timeout=WAIT_MS)
    assert "stopped delivering frames" in window.notices["source"]
    assert "stopped delivering frames" in window.video.overlay_text()
    assert not window.transport._playing and capture.released


def test_a_stalled_camera_is_reported_and_does_not_hold_up_closing(qtbot, checkpoint):
    before = {t.native_id for t in threading.enumerate()}
    capture = StallingCapture(frames=10)
    window = open_window(qtbot, config(camera=fake_camera(capture)), checkpoint=str(checkpoint))
    qtbot.waitUntil(lambda: "stall" in window.notices, timeout=WAIT_MS)
    assert "Camera 0 has sent no frame" in window.video.overlay_text()
    started = time.monotonic()
    window.close()
    assert time.monotonic() - started < HANG  # the stalled read() did not hold closing up
    assert capture.released and not window._capture_thread.isRunning()
    qtbot.waitUntil(lambda: running_thread_names(before) == [], timeout=WAIT_MS)


def test_the_end_of_a_video_is_reported_and_play_starts_again(qtbot, checkpoint, tmp_path):
    short = grey_video(tmp_path / "short.avi", frames=20)
    window = open_window(qtbot, config(), video=str(short), checkpoint=str(checkpoint))
    frames = _record(window.worker.frame_ready)
    qtbot.waitUntil(lambda: "source" in window.notices, timeout=WAIT_MS)
    assert window.notices["source"] == "short.avi ended — press Play to watch it again"
    assert not window.transport._playing
    window.transport.play_pause.click()
    qtbot.waitUntil(lambda: bool(frames) and frames[-1].position < 5, timeout=WAIT_MS)
    assert "source" not in window.notices


def test_checkpoints_that_do_not_fit_are_reported(qtbot, checkpoint, video, tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    ntu = small_checkpoint(tmp_path / "ntu.pt", layout="ntu25", coords=3, use_score=False)
    window = open_window(qtbot, config(), video=str(video), checkpoint=str(garbage))
    frames = _record(window.worker.frame_ready)
    qtbot.waitUntil(lambda: "model" in window.notices, timeout=WAIT_MS)
    assert "Cannot use checkpoint garbage.pt" in window.notices["model"]
    qtbot.waitUntil(lambda: len(frames) > 3, timeout=WAIT_MS)  # the video plays on, skeleton without a model
    assert frames[-1].pose.people

    window.open_checkpoint(str(ntu))
    qtbot.waitUntil(lambda: "ntu25" in window.notices.get("model", ""), timeout=WAIT_MS)
    window.open_checkpoint(str(checkpoint))
    qtbot.waitUntil(lambda: _ok(window), timeout=WAIT_MS)
    assert "model" not in window.notices and "small.pt" in window._model_label.text()
    window.open_checkpoint(str(ntu))  # a bad choice later keeps the working model
    qtbot.waitUntil(lambda: "still using small.pt" in window.notices.get("model", ""), timeout=WAIT_MS)


def test_confidence_threshold_and_pose_backend(qtbot, checkpoint, video, tmp_path):
    pose = ThresholdPose()
    window = open_window(qtbot, config(pose=fake_pose_factory(pose)), video=str(video), checkpoint=str(checkpoint))
    frames = _record(window.worker.frame_ready)
    qtbot.waitUntil(lambda: bool(frames and frames[-1].pose.people), timeout=WAIT_MS)
    window.pose_controls.confidence.setValue(0.95)  # above the fake's 0.9 scores: nobody is seen
    qtbot.waitUntil(lambda: pose.min_visibility == pytest.approx(0.95), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not frames[-1].pose.people, timeout=WAIT_MS)
    window.pose_controls.confidence.setValue(0.3)
    qtbot.waitUntil(lambda: bool(frames[-1].pose.people), timeout=WAIT_MS)

    window.use_pose_model(str(tmp_path / "missing.task"))  # the MediaPipe Tasks backend, with a bad file
    qtbot.waitUntil(lambda: "pose" in window.notices, timeout=WAIT_MS)
    assert "missing.task does not exist" in window.notices["pose"] and "still using MediaPipe" in \
        window.notices["pose"]
    assert window.pose_controls.backend.currentIndex() == 0  # the bundled backend is still in use
    count = len(frames)
    qtbot.waitUntil(lambda: len(frames) > count + 3, timeout=WAIT_MS)  # and still running


def test_switching_models_reaches_the_model_thread_while_the_video_keeps_playing(qtbot, checkpoint, video, tmp_path):
    other = tmp_path / "other.pt"
    small_checkpoint(other)
    renamed = load_checkpoint(other)
    renamed.labels = ["squat", "hop", "sit", "stand", "run"]  # none of LABELS: only the new model gives these
    save_checkpoint(renamed, other)
    window = open_window(qtbot, config(), video=str(video), checkpoint=str(checkpoint))
    window.transport.loop.setChecked(True)
    predictions = _record(window.worker.prediction_ready)
    qtbot.waitUntil(lambda: _ok(window), timeout=WAIT_MS)
    opened = _record(window.worker.source_opened)
    assert window.model_controls.model.currentText() == "small.pt" and "small.pt" in window.windowTitle()
    position = window.transport.slider.value()

    window.model_controls.model_requested.emit(str(other))  # as when the user picks it in the menu
    qtbot.waitUntil(lambda: window.prediction is not None and bool(window.prediction.top_k)
                    and window.prediction.top_k[0][0] in renamed.labels, timeout=WAIT_MS)
    assert opened == []  # the same source, never reopened
    assert window.transport.slider.value() != position or window.transport._playing
    assert window.model_controls.model.currentText() == "other.pt" and "other.pt" in window.windowTitle()
    assert "small.pt" in window.model_controls.models()  # both stay in the menu
    assert any(p.prediction.top_k and p.prediction.top_k[0][0] in LABELS for p in predictions)


def test_an_uncertain_prediction_is_greyed_and_the_threshold_reaches_the_model(qtbot, checkpoint, video):
    window = open_window(qtbot, config(), video=str(video), checkpoint=str(checkpoint))
    qtbot.waitUntil(lambda: _ok(window), timeout=WAIT_MS)
    assert window.model_controls.threshold.value() == 0.0  # the small model records 0: never uncertain
    window.model_controls.threshold.setValue(0.99)  # a random 5-class model is never that sure
    qtbot.waitUntil(lambda: window.prediction is not None and window.prediction.state == "uncertain",
                    timeout=WAIT_MS)
    assert window.bars.greyed() and window.bars.items() == list(window.prediction.top_k)
    assert window.video.headline() == "uncertain" and window.prediction.label is None
