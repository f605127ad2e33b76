"""The GUI thread keeps drawing while the model is busy: inference and capture never run on it.

The model is held inside ``predict()`` until the test lets it go. Meanwhile the GUI must draw camera frames and
run its timers; a GUI thread that waited for the model would do neither until released. No wall-clock budget is
asserted (a loaded machine may deschedule the whole process): the longest gap of a 10 ms timer while the model is
busy is printed (``pytest -s``) as the README's figure.
"""

from __future__ import annotations

import threading
import time

from gui_fakes import config, fake_camera, open_window, small_checkpoint
from PyQt6.QtCore import Qt, QTimer
from realtime_fakes import FakeCapture

from realtime.recognizer import Recognizer

HANG = 60.0  # seconds after which a wait gives up: only a hang takes this long
FRAMES_WHILE_BUSY = 30  # a second of camera frames drawn while the model is held
BEATS_WHILE_BUSY = 50  # ticks of a 10 ms timer on the GUI thread while the model is held


class HeldRecognizer:
    """A real recognizer whose predict() holds, once entered, until ``release`` is set."""

    def __init__(self, inner: Recognizer) -> None:
        self.inner, self.calls = inner, 0
        self.threads: set[int] = set()  # the threads predict() ran on
        self.entered, self.release = threading.Event(), threading.Event()

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def predict(self, request: object) -> object:
        self.calls += 1
        self.threads.add(threading.get_ident())
        self.entered.set()
        self.release.wait(timeout=HANG)
        return self.inner.predict(request)


def test_the_gui_draws_and_runs_its_timers_while_the_model_is_busy(qtbot, tmp_path):
    checkpoint = small_checkpoint(tmp_path / "small.pt")
    held: list[HeldRecognizer] = []

    def held_recognizer(path):
        held.append(HeldRecognizer(Recognizer.from_file(path, device="cpu")))
        return held[-1]

    capture = FakeCapture(period=1 / 30)
    window = open_window(qtbot, config(camera=fake_camera(capture), recognizer=held_recognizer, every_ms=0),
                         checkpoint=str(checkpoint))
    predictions, frames, beats = [], [], []
    window.worker.prediction_ready.connect(predictions.append)
    window.worker.frame_ready.connect(frames.append)
    qtbot.waitUntil(lambda: bool(held) and held[-1].entered.is_set(), timeout=int(HANG * 1000))
    model = held[-1]  # now inside predict(), and it stays there until released

    heartbeat = QTimer()
    heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
    heartbeat.setInterval(10)
    heartbeat.timeout.connect(lambda: beats.append(time.perf_counter()))
    drawn, calls, predicted = len(frames), model.calls, len(predictions)
    heartbeat.start()
    qtbot.waitUntil(lambda: len(frames) >= drawn + FRAMES_WHILE_BUSY and len(beats) >= BEATS_WHILE_BUSY,
                    timeout=int(HANG * 1000))
    heartbeat.stop()
    assert model.calls == calls and len(predictions) == predicted  # all that while, the model was held
    gaps = [b - a for a, b in zip(beats, beats[1:], strict=False)]
    print(f"\nGUI event loop: max gap {max(gaps) * 1000:.1f} ms over {len(beats)} beats; "
          f"{len(frames) - drawn} frames drawn while the model was busy")

    model.release.set()
    qtbot.waitUntil(lambda: len(predictions) > predicted, timeout=int(HANG * 1000))
    assert threading.get_ident() not in model.threads  # the model never ran on the GUI thread
