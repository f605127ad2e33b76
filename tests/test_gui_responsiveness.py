"""The GUI thread keeps drawing while the model is slow: inference and capture never run on it."""

from __future__ import annotations

import threading
import time

from gui_fakes import SlowRecognizer, config, fake_camera, open_window, small_checkpoint
from PyQt6.QtCore import Qt, QTimer
from realtime_fakes import FakeCapture

from realtime.recognizer import Recognizer

MODEL_DELAY = 0.3  # seconds added to every prediction
# A GUI thread that waited for the model would go >= 300 ms without running its 10 ms timer at every prediction.
# Half of that tells the two apart on a loaded machine; the measured stall itself is a figure for the README
# (printed with -s), not a budget asserted here.
MAX_STALL = MODEL_DELAY / 2
MEASURE_SECONDS = 2.0
ATTEMPTS = 3


def _measure(qtbot, seconds: float) -> list[float]:
    """Gaps between the ticks of a 10 ms timer on the GUI thread, over ``seconds``."""
    beats: list[float] = []
    heartbeat = QTimer()
    heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
    heartbeat.setInterval(10)
    heartbeat.timeout.connect(lambda: beats.append(time.perf_counter()))
    heartbeat.start()
    qtbot.wait(int(seconds * 1000))
    heartbeat.stop()
    return [b - a for a, b in zip(beats, beats[1:], strict=False)]


def test_the_gui_never_blocks_while_a_slow_model_runs(qtbot, tmp_path):
    checkpoint = small_checkpoint(tmp_path / "small.pt")
    slow: list[SlowRecognizer] = []

    def slow_recognizer(path):
        slow.append(SlowRecognizer(Recognizer.from_file(path, device="cpu"), MODEL_DELAY))
        return slow[-1]

    capture = FakeCapture(period=1 / 30)
    window = open_window(qtbot, config(camera=fake_camera(capture), recognizer=slow_recognizer, every_ms=0),
                         checkpoint=str(checkpoint))
    predictions, frames = [], []
    window.worker.prediction_ready.connect(predictions.append)
    window.worker.frame_ready.connect(frames.append)
    qtbot.waitUntil(lambda: any(p.prediction.state == "ok" for p in predictions), timeout=10_000)

    # A loaded machine (training jobs on the same two cores) can deschedule the whole process now and then; a
    # later attempt then tells that apart from a GUI that waits for the model at every prediction.
    results = []
    for _ in range(ATTEMPTS):
        first_prediction, first_frame, first_call = len(predictions), len(frames), slow[-1].calls
        gaps = _measure(qtbot, MEASURE_SECONDS)
        results.append((max(gaps), len(gaps), len(predictions) - first_prediction, len(frames) - first_frame,
                        slow[-1].calls - first_call))
        if results[-1][0] < MAX_STALL:
            break
    for max_gap, beats, new_predictions, new_frames, _ in results:
        print(f"\nGUI event loop: max gap {max_gap * 1000:.1f} ms over {beats} beats; {new_frames} frames and "
              f"{new_predictions} predictions drawn in {MEASURE_SECONDS:.0f} s with a "
              f"{MODEL_DELAY * 1000:.0f} ms model")
    max_gap, _, new_predictions, new_frames, calls = results[-1]
    assert calls >= 4 and 3 <= new_predictions <= 8  # the model was busy all along: ~one call per 300 ms
    assert new_frames >= 30  # the camera's 30 fps are drawn while the model runs
    assert threading.get_ident() not in slow[-1].threads  # the model never ran on the GUI thread
    assert max_gap < MAX_STALL, f"the GUI thread stalled {max_gap * 1000:.0f} ms in each of {ATTEMPTS} attempts"
