"""Engine: pose result at once, predictions on a model thread; live (latest wins) and replay (every tick) modes."""

from __future__ import annotations

import threading
import time
import tracemalloc

import numpy as np
import pytest
from realtime_fakes import FakePose, mediapipe_person, tiny_checkpoint

from realtime.engine import Engine, EngineConfig
from realtime.recognizer import Recognizer
from stfnet.errors import CheckpointError

HANG = 60.0  # seconds after which a wait gives up: only a hang takes this long


@pytest.fixture(scope="module")
def checkpoint_path(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt")  # 32 frames over ~1.07 s


@pytest.fixture
def recognizer(checkpoint_path):
    return Recognizer.from_file(checkpoint_path, device="cpu")


class SlowRecognizer:
    """Wraps a recognizer so that each prediction takes at least ``delay`` seconds and records what it saw."""

    def __init__(self, inner, delay):
        self.inner, self.delay, self.seen = inner, delay, []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def predict(self, request):
        self.seen.append(request.frame_index)
        time.sleep(self.delay)
        return self.inner.predict(request)


def _replay(recognizer, frames, every_ms=100, overlap=True, fps=30.0, **config):
    predictions = []
    engine = Engine(recognizer, FakePose(**config.pop("pose", {})),
                    EngineConfig(mode="replay", every_ms=every_ms, overlap=overlap, **config),
                    on_prediction=predictions.append)
    image = np.zeros((4, 4, 3), np.uint8)
    with engine:
        for i in range(frames):
            image[:] = i % 50
            result = engine.submit(image, i / fps, i)
        engine.flush()
    return predictions, result


def test_replay_classifies_every_tick_of_video_time_in_order(recognizer):
    predictions, result = _replay(recognizer, frames=90, every_ms=100)  # 3 s at 30 fps
    assert [p.frame_index for p in predictions] == [3 * k for k in range(30)]
    states = [p.state for p in predictions]
    assert states[0] == "warming_up" and states[-1] == "ok" and "no_person" not in states
    first_ok = states.index("ok")
    assert set(states[first_ok:]) == {"ok"} and 0.5 <= predictions[first_ok].timestamp <= 0.6  # half a window
    assert result.people[0].keypoints.shape == (18, 2) and result.people[0].person_id == 0


def test_replay_is_the_same_with_and_without_overlap(checkpoint_path):
    inline, _ = _replay(Recognizer.from_file(checkpoint_path, device="cpu"), frames=60, overlap=False)
    threaded, _ = _replay(Recognizer.from_file(checkpoint_path, device="cpu"), frames=60, overlap=True)
    assert [(p.frame_index, p.state, p.top_k) for p in inline] == [(p.frame_index, p.state, p.top_k)
                                                                    for p in threaded]
    np.testing.assert_allclose(inline[-1].probabilities, threaded[-1].probabilities, atol=1e-6)


def test_replay_with_a_slow_model_waits_instead_of_dropping(recognizer):
    slow = SlowRecognizer(recognizer, delay=0.05)
    started = time.monotonic()
    predictions, _ = _replay(slow, frames=30, every_ms=100)
    assert len(predictions) == 10 and slow.seen == [3 * k for k in range(10)]
    assert time.monotonic() - started >= 0.45  # it waited for the model


class HeldRecognizer:
    """Wraps a recognizer so that predict() holds, once entered, until the test releases it."""

    def __init__(self, inner):
        self.inner, self.seen = inner, []
        self.entered, self.release = threading.Event(), threading.Event()

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def predict(self, request):
        self.seen.append(request.frame_index)
        self.entered.set()
        self.release.wait(timeout=HANG)
        return self.inner.predict(request)


def test_live_mode_latest_window_wins_and_submit_never_waits(recognizer):
    held = HeldRecognizer(recognizer)
    predictions = []
    engine = Engine(held, FakePose(), EngineConfig(mode="live", every_ms=0), on_prediction=predictions.append)
    image = np.zeros((4, 4, 3), np.uint8)
    with engine:
        engine.submit(image, 0.0, 0)
        assert held.entered.wait(HANG)  # the model is busy with frame 0 until released
        for i in range(1, 100):
            engine.submit(image, i / 100, i)  # each returns while the model is held: capture never waits for it
        assert held.seen == [0] and predictions == []
        held.release.set()
        engine.flush(timeout=HANG)
    assert held.seen == [0, 99]  # the 98 windows in between were dropped, not queued: the newest won
    assert predictions[-1].frame_index == 99 and engine.latest() is predictions[-1]


def test_live_mode_rate_limits_to_every_ms(recognizer):
    predictions = []
    engine = Engine(recognizer, FakePose(), EngineConfig(mode="live", every_ms=100), on_prediction=predictions.append)
    image = np.zeros((4, 4, 3), np.uint8)
    started = time.monotonic()
    with engine:
        for i in range(60):
            engine.submit(image, i / 100, i)
            time.sleep(0.01)
        engine.flush(timeout=HANG)
    elapsed = time.monotonic() - started
    # Starts are at least 100 ms apart, however long the run took on a loaded machine; the last frame is classified.
    assert 2 <= len(predictions) <= elapsed / 0.1 + 1 and predictions[-1].frame_index == 59


def test_nobody_then_somebody_then_nobody(recognizer):
    predictions = []
    pose = FakePose(nobody=True)
    engine = Engine(recognizer, pose, EngineConfig(mode="replay", every_ms=100, overlap=False, lost_after=0.5),
                    on_prediction=predictions.append)
    image = np.zeros((4, 4, 3), np.uint8)
    with engine:
        for i in range(150):
            pose.nobody = not 30 <= i < 90  # a person from 1 s to 3 s
            result = engine.submit(image, i / 30, i)
            assert len(result.people) == (0 if pose.nobody else 1)
        engine.flush()
    states = {round(p.timestamp, 1): p.state for p in predictions}
    assert states[0.0] == states[0.9] == "no_person"
    assert states[1.0] == "warming_up" and states[2.0] == "ok"
    assert states[3.3] == "ok"  # unseen for less than lost_after: the track and its window live on
    assert states[3.6] == states[4.9] == "no_person"


def test_checkpoint_the_pose_backend_cannot_feed_fails_at_startup(tmp_path):
    ntu = Recognizer.from_file(tiny_checkpoint(tmp_path / "ntu.pt", layout="ntu25", coords=3, use_score=False),
                               device="cpu")
    with pytest.raises(CheckpointError, match="ntu25"):
        Engine(ntu, FakePose())


def test_errors_on_the_model_thread_reach_the_caller(recognizer):
    def explode(prediction):
        raise RuntimeError("callback failed")

    engine = Engine(recognizer, FakePose(), EngineConfig(mode="replay", every_ms=100), on_prediction=explode)
    image = np.zeros((4, 4, 3), np.uint8)
    with engine, pytest.raises(RuntimeError, match="callback failed"):
        for i in range(60):
            engine.submit(image, i / 30, i)
        engine.flush()


def test_several_people_keep_their_own_ids_and_windows(checkpoint_path):
    recognizer = Recognizer.from_file(checkpoint_path, device="cpu")
    predictions = []
    engine = Engine(recognizer, None, EngineConfig(mode="replay", every_ms=200, overlap=False, max_people=2),
                    on_prediction=predictions.append)
    left_id = None
    with engine:
        for i in range(60):
            left = mediapipe_person(i / 5, offset=(100.0 + i, 60.0))
            right = mediapipe_person(i / 5, offset=(500.0 - i, 60.0), scale=1.5)
            people = [left, right] if i % 2 else [right, left]  # the detector's order changes
            result = engine.submit_people(people, i / 30, i)
            assert {p.person_id for p in result.people} == {0, 1}
            leftmost = min(result.people, key=lambda p: p.keypoints[1, 0]).person_id
            left_id = leftmost if left_id is None else left_id
            assert leftmost == left_id  # the same person keeps the same id
    last = predictions[-1]
    assert last.state == "ok" and [p.person_id for p in last.people] == [0, 1]
    assert all(p.state == "ok" for p in last.people)
    left_window, right_window = engine._windows[left_id], engine._windows[1 - left_id]
    snap = left_window.snapshot(32)
    assert (snap.keypoints[:, 1, 0] < 200).all() and right_window.newest()[0][1, 0] > 300  # each their own


def test_callbacks_run_off_the_submitting_thread_and_get_copies(recognizer):
    threads = []
    engine = Engine(recognizer, None, EngineConfig(mode="live", every_ms=0),
                    on_prediction=lambda p: threads.append(threading.current_thread()))
    person = mediapipe_person(0.0)
    with engine:
        for i in range(40):
            engine.submit_people([person], i / 30, i)
        person.keypoints[:] = -1e6  # the caller reuses its buffer: the engine must not see it
        engine.flush(timeout=2.0)
    assert threads and all(t is not threading.current_thread() for t in threads)
    assert engine.latest().keypoints.min() > -1e6


def test_memory_stays_flat_over_ten_thousand_frames(recognizer):
    count = []
    engine = Engine(recognizer, FakePose(), EngineConfig(mode="replay", every_ms=2000),
                    on_prediction=lambda p: count.append(1))
    image = np.zeros((4, 4, 3), np.uint8)
    with engine:
        for i in range(10_000):
            if i == 2_000:  # warmed up: from here on, everything still allocated at the end is growth
                engine.flush()
                tracemalloc.start()
            engine.submit(image, i / 30, i)
        engine.flush()
        growth = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
    assert len(count) == 167  # one per 2 s of 333 s
    assert growth < 256 * 1024, f"memory grew by {growth / 1024:.0f} KiB over 8,000 frames"
