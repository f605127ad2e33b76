"""Teach your own actions in the window: record, train in the background, recognise; cancel; nothing lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from gui_fakes import ActingPose, config, fake_camera, open_window, small_checkpoint
from realtime_fakes import FakeCapture

import realtime.gui.teach_controller as teach_controller
from realtime.teach import TeachSession, models_dir
from stfnet.checkpoint import load_checkpoint
from stfnet.shipped import resolve_model
from train.data.format import load_dataset

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("STFNET_LIVE_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(teach_controller, "COUNTDOWN_TICK_MS", 20)
    return tmp_path / "home"


def _window(qtbot, tmp_path, pose):
    checkpoint = small_checkpoint(tmp_path / "backbone.pt")
    capture = FakeCapture(period=0.02)
    window = open_window(qtbot, config(camera=fake_camera(capture), pose=lambda model, people=1: pose),
                         checkpoint=str(checkpoint))
    qtbot.waitUntil(lambda: window._model is not None and window.prediction is not None, timeout=10_000)
    return window


def _record(qtbot, window, pose, action, seconds=0.6):
    """Record one sample of ``action`` with the Record button (countdown, fixed length)."""
    panel = window.teach_panel
    saved = len(panel.sample_names())
    pose.action = action
    panel.action.setText(action)
    panel.seconds.setValue(1.0)
    panel.record.click()
    qtbot.waitUntil(lambda: len(panel.sample_names()) == saved + 1, timeout=10_000)


def test_record_two_actions_train_and_the_new_labels_are_recognised(qtbot, tmp_path, home):
    pose = ActingPose()
    window = _window(qtbot, tmp_path, pose)
    panel = window.teach_panel
    panel.model_name.setText("my-moves")
    for action in ("wave", "kick"):
        for _ in range(3):
            _record(qtbot, window, pose, action)
    session = TeachSession.open("my-moves", window._model.layout)
    assert session.counts() == {"wave": 3, "kick": 3}
    assert all(0.8 <= s.seconds <= 1.6 for s in session.samples())  # 1 s recordings at the camera's rate
    data = load_dataset(session.dataset_path)
    assert data["classes"] == ["wave", "kick"] and data["split"]["train"] == panel.sample_names()

    panel.play.click()  # the newest sample plays back as a skeleton
    assert panel.player.playing()

    window.teach.train_arguments = ("--steps", "30", "--batch-size", "6", "--lr", "0.05")
    panel.train.click()
    assert window.teach.training()
    assert window.teach._process.processEnvironment().value("OMP_NUM_THREADS") == "1"  # a core left to the video
    qtbot.waitUntil(lambda: not window.teach.training(), timeout=120_000)
    assert panel.progress.value() == 100, panel.train_status.text()
    assert session.model_path.is_file() and (models_dir() / "my-moves" / "model.pt") == session.model_path
    qtbot.waitUntil(lambda: window._model.path == session.model_path, timeout=10_000)
    assert window.model_controls.model.currentText() == "my-moves (yours)"
    qtbot.waitUntil(lambda: window.prediction is not None and bool(window.prediction.top_k)
                    and {label for label, _ in window.prediction.top_k} == {"wave", "kick"}, timeout=10_000)

    # More samples, then train again: the new sample is in the data the second run reads.
    _record(qtbot, window, pose, "wave")
    assert TeachSession.open("my-moves", window._model.layout).counts() == {"wave": 4, "kick": 3}


@pytest.mark.slow
def test_while_the_default_model_runs_new_actions_are_learned_from_the_teach_backbone(qtbot, tmp_path, home):
    pose = ActingPose()
    window = open_window(qtbot, config(camera=fake_camera(FakeCapture(period=0.02)),
                                       pose=lambda model, people=1: pose), checkpoint=str(resolve_model(None)))
    qtbot.waitUntil(lambda: window._model is not None, timeout=30_000)
    panel = window.teach_panel
    for action in ("wave", "kick"):
        for _ in range(2):
            _record(qtbot, window, pose, action)
    window.teach.train_arguments = ("--steps", "10", "--batch-size", "4")
    panel.train.click()
    assert "from Exercise and sport, small" in panel.train_status.text()
    qtbot.waitUntil(lambda: not window.teach.training(), timeout=120_000)
    assert panel.progress.value() == 100, panel.train_status.text()
    taught = load_checkpoint(models_dir() / "my-actions" / "model.pt")
    assert taught.labels == ["wave", "kick"] and taught.model_config.base_channels == 32  # exercise-small's width


def test_cancel_stops_training_cleanly(qtbot, tmp_path, home):
    pose = ActingPose()
    window = _window(qtbot, tmp_path, pose)
    panel = window.teach_panel
    for action in ("wave", "kick"):
        _record(qtbot, window, pose, action)
    window.teach.train_arguments = ("--steps", "4000", "--batch-size", "2")  # progress every 100 steps
    panel.train.click()
    qtbot.waitUntil(lambda: "step" in panel.train_status.text(), timeout=120_000)  # it has really started
    panel.cancel.click()
    qtbot.waitUntil(lambda: not window.teach.training(), timeout=30_000)
    assert panel.train_status.text() == "Training cancelled." and panel.train.isEnabled()
    assert not (models_dir() / "my-actions" / "model.pt").exists()
    assert not list((models_dir() / "my-actions").rglob("*.tmp"))  # nothing half-written


def test_a_recording_with_nobody_in_view_is_not_saved(qtbot, tmp_path, home):
    pose = ActingPose()
    window = _window(qtbot, tmp_path, pose)
    panel = window.teach_panel
    pose.nobody = True
    panel.action.setText("wave")
    panel.mark_in.click()
    qtbot.wait(300)
    panel.mark_out.click()
    qtbot.waitUntil(lambda: "Nobody was seen" in panel.status.text(), timeout=10_000)
    assert panel.sample_names() == []


KILLED_APP = """
import sys
sys.path[:0] = [{tests!r}, {root!r}]
from gui_fakes import ActingPose, config, fake_camera, small_checkpoint
from realtime_fakes import FakeCapture
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication
from realtime.gui.app import create_window
import realtime.gui.teach_controller as tc
tc.COUNTDOWN_TICK_MS = 20
app = QApplication([])
pose = ActingPose()
window = create_window(config(camera=fake_camera(FakeCapture(period=0.02)), pose=lambda m, p=1: pose))
window.show()
window.start(checkpoint=str(small_checkpoint({folder!r} + "/ckpt.pt")))
panel = window.teach_panel
state = {{"n": 0}}
def step():
    if window._model is None:
        return QTimer.singleShot(100, step)
    if len(panel.sample_names()) < 2:
        if panel.record.isEnabled():
            panel.action.setText("wave"); panel.seconds.setValue(1.0); panel.record.click()
        return QTimer.singleShot(100, step)
    panel.action.setText("kick"); panel.mark_in.click()
    print("recording", flush=True)
QTimer.singleShot(100, step)
app.exec()
"""


@pytest.mark.slow
def test_samples_survive_the_app_being_killed_mid_recording(tmp_path):
    env = {**os.environ, "STFNET_LIVE_HOME": str(tmp_path / "home"), "QT_QPA_PLATFORM": "offscreen"}
    script = KILLED_APP.format(tests=str(ROOT / "tests"), root=str(ROOT), folder=str(tmp_path))
    process = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "recording"  # two samples saved, a third one under way
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    data = load_dataset(tmp_path / "home" / "models" / "my-actions" / "dataset.npz")
    assert [a["action"] for a in data["annotations"]] == ["wave", "wave"]
    assert not list((tmp_path / "home").rglob("*.tmp"))
