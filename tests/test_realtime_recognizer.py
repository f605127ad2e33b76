"""Recognizer: the checkpoint's own preprocessing, a complete immutable Prediction, smoothing over time."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from realtime_fakes import LABELS, tiny_checkpoint

from realtime.recognizer import ProbabilitySmoother, Recognizer, Request, TrackedPerson, WindowSample
from stfnet.checkpoint import load_checkpoint
from stfnet.features import normalize, to_stream
from stfnet.layouts import get_layout
from stfnet.mirror import mirror_permutation


@pytest.fixture(scope="module")
def checkpoint_path(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


def _window(rng, frames=32, joints=18):
    kp = rng.uniform(50, 150, (1, frames, joints, 2)).astype(np.float32)  # (M, T, V, C) pixels
    return kp, np.full(kp.shape[:3], 0.9, np.float32)


def _request(kp, sc, timestamp=3.0, pid=0):
    person = TrackedPerson(pid, kp[0, -1], sc[0, -1])
    return Request(timestamp, 90, (person,), (WindowSample((pid,), kp, sc, (timestamp - 2, timestamp)),))


def test_prediction_is_complete_and_immutable(checkpoint_path):
    recognizer = Recognizer.from_file(checkpoint_path, device="cpu", top_k=3)
    kp, sc = _window(np.random.default_rng(0))
    p = recognizer.predict(_request(kp, sc))
    assert p.state == "ok" and p.timestamp == 3.0 and p.frame_index == 90 and p.window_span == (1.0, 3.0)
    assert len(p.top_k) == 3 and p.top_k[0][0] in LABELS and p.label == p.top_k[0][0]
    assert [prob for _, prob in p.top_k] == sorted((prob for _, prob in p.top_k), reverse=True)
    assert p.probabilities.shape == (len(LABELS),) and p.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    assert sorted(p.mcf_maps) == [4, 5, 6, 7, 8, 9]
    assert [m.shape for m in p.mcf_maps[9]] == [(18, 18), (18, 6)]  # joints, then the six parts
    assert p.mcf_grain_weights[9].shape == (2,)
    assert p.tdf_weights[1].shape == (8, 32) and p.tdf_weights[9].shape == (32, 8)  # (C, T') per layer
    assert p.joint_attention.shape == (18,) and p.joint_attention.sum() == pytest.approx(1.0, abs=1e-4)
    assert p.keypoints.shape == (18, 2) and p.person_id == 0 and p.latency_ms > 0
    assert len(p.people) == 1 and p.people[0].state == "ok"
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.state = "no_person"
    with pytest.raises(ValueError):
        p.probabilities[0] = 1.0  # arrays are read-only too
    with pytest.raises(ValueError):
        p.mcf_maps[9][0][0, 0] = 1.0


@pytest.mark.parametrize("stream", ["joint", "bone_motion"])
def test_uses_exactly_the_checkpoints_normalization_and_stream(tmp_path, stream):
    path = tiny_checkpoint(tmp_path / "c.pt", stream=stream)
    recognizer = Recognizer.from_file(path, device="cpu", smoothing_half_life=0.0)
    ckpt = load_checkpoint(path)
    kp, sc = _window(np.random.default_rng(1))
    sc[0, :, 4] = 0  # an unseen joint
    expected = to_stream(normalize(kp, sc, get_layout("openpose18"), ckpt.normalize), get_layout("openpose18"),
                         stream, 2)
    np.testing.assert_array_equal(recognizer.model_input(kp, sc), expected)
    with torch.inference_mode():
        direct = ckpt.build_model("cpu")(torch.from_numpy(expected[None])).softmax(-1)[0].numpy()
    np.testing.assert_allclose(recognizer.predict(_request(kp, sc)).probabilities, direct, atol=1e-5)


def test_a_mirror_averaging_model_answers_the_same_for_a_window_and_its_mirror_image(tmp_path):
    recognizer = Recognizer.from_file(tiny_checkpoint(tmp_path / "m.pt", extra={"mirror_average": True}),
                                      device="cpu", smoothing_half_life=0.0)
    kp, sc = _window(np.random.default_rng(2))
    flipped = kp[:, :, mirror_permutation(get_layout("openpose18"))].copy()
    flipped[..., 0] = 200 - flipped[..., 0]  # the picture mirrored: x reflected, left and right joints swapped
    first, second = recognizer.predict(_request(kp, sc)), recognizer.predict(_request(flipped, sc, pid=1))
    np.testing.assert_allclose(first.probabilities, second.probabilities, atol=1e-5)
    assert [m.shape for m in first.mcf_maps[9]] == [(18, 18), (18, 6)]  # the window's own maps
    assert first.evidence.shape[-1] == 18


def test_smoothing_is_an_exponential_moving_average_over_time():
    smoother = ProbabilitySmoother(half_life=1.0)
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    np.testing.assert_allclose(smoother.update(7, a, 0.0), a)
    np.testing.assert_allclose(smoother.update(7, b, 1.0), [0.5, 0.5])  # one half-life later: half each
    np.testing.assert_allclose(smoother.update(7, b, 3.0), [0.125, 0.875])
    np.testing.assert_allclose(smoother.update(8, a, 3.0), a)  # each person has their own average
    smoother.retain({8})
    np.testing.assert_allclose(smoother.update(7, a, 4.0), a)  # forgotten, starts fresh
    assert np.allclose(ProbabilitySmoother(0.0).update(1, b, 9.0), b)


def test_no_person_and_warming_up_are_states_without_inference(checkpoint_path):
    recognizer = Recognizer.from_file(checkpoint_path, device="cpu")
    nobody = recognizer.predict(Request(1.0, 30, (), ()))
    assert nobody.state == "no_person" and nobody.top_k == () and nobody.label is None
    assert nobody.keypoints is None and not nobody.probabilities.any() and nobody.latency_ms == 0
    person = TrackedPerson(3, np.zeros((18, 2), np.float32), np.ones(18, np.float32))
    waiting = recognizer.predict(Request(1.0, 30, (person,), ()))
    assert waiting.state == "warming_up" and waiting.person_id == 3 and waiting.keypoints.shape == (18, 2)


def test_window_seconds_come_from_the_checkpoint(tmp_path):
    default = Recognizer.from_file(tiny_checkpoint(tmp_path / "a.pt", num_frames=60), device="cpu")
    assert default.window_seconds == pytest.approx(2.0)  # 60 frames at the assumed 30 fps
    recorded = Recognizer.from_file(tiny_checkpoint(tmp_path / "b.pt", extra={"window_seconds": 3.5}), device="cpu")
    assert recorded.window_seconds == 3.5 and recorded.num_frames == 32
