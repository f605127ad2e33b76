"""The label decision: "uncertain" below the threshold, hysteresis, and no change on a one-window blip."""

from __future__ import annotations

import numpy as np
import pytest
from realtime_fakes import tiny_checkpoint

from realtime.decision import DecisionConfig, LabelDecider
from realtime.recognizer import Recognizer, Request, TrackedPerson, WindowSample
from stfnet.checkpoint import load_checkpoint, save_checkpoint


def _probs(best: int, p: float, classes: int = 4) -> np.ndarray:
    out = np.full(classes, (1 - p) / (classes - 1))
    out[best] = p
    return out


def _run(decider: LabelDecider, sequence: list[np.ndarray], every: float = 0.2) -> list[int | None]:
    return [decider.decide(0, probs, k * every) for k, probs in enumerate(sequence)]


def test_below_the_threshold_is_uncertain_and_the_first_answer_is_shown_at_once():
    decider = LabelDecider(DecisionConfig(min_confidence=0.6))
    assert _run(decider, [_probs(1, 0.4)]) == [None]
    assert LabelDecider(DecisionConfig(min_confidence=0.6)).decide(0, _probs(2, 0.9), 0.0) == 2


def test_a_one_window_blip_does_not_change_the_label():
    decider = LabelDecider(DecisionConfig(min_confidence=0.5, min_dwell=0.3))
    sequence = [_probs(0, 0.9)] * 3 + [_probs(2, 0.95)] + [_probs(0, 0.9)] * 3  # class 2 for one window
    assert _run(decider, sequence) == [0] * 7
    uncertain_blip = [_probs(0, 0.9)] * 3 + [_probs(1, 0.3)] + [_probs(0, 0.9)] * 3
    assert _run(LabelDecider(DecisionConfig(min_confidence=0.5, min_dwell=0.3)), uncertain_blip) == [0] * 7


def test_a_lasting_change_is_shown_after_the_dwell():
    decider = LabelDecider(DecisionConfig(min_confidence=0.5, min_dwell=0.3))
    shown = _run(decider, [_probs(0, 0.9)] * 2 + [_probs(3, 0.9)] * 4)  # predictions 0.2 s apart
    assert shown == [0, 0, 0, 0, 3, 3]  # class 3 proposed at 0.4 s, shown at 0.8 s (>= 0.3 s later)


def test_hysteresis_keeps_a_label_that_dips_just_under_the_threshold():
    decider = LabelDecider(DecisionConfig(min_confidence=0.5, release_margin=0.1, min_dwell=0.0))
    assert _run(decider, [_probs(1, 0.8), _probs(1, 0.45), _probs(1, 0.35)]) == [1, 1, None]
    # Without a label shown, 0.45 is not enough to show one.
    assert _run(LabelDecider(DecisionConfig(min_confidence=0.5, min_dwell=0.0)), [_probs(1, 0.45)]) == [None]


def test_people_are_decided_apart_and_forgotten_when_gone():
    decider = LabelDecider(DecisionConfig(min_confidence=0.5, min_dwell=1.0))
    assert decider.decide(0, _probs(0, 0.9), 0.0) == 0
    assert decider.decide(1, _probs(2, 0.9), 0.0) == 2
    decider.retain({1})
    assert decider.decide(0, _probs(3, 0.9), 0.2) == 3  # a returning id starts afresh
    assert decider.decide(1, _probs(3, 0.9), 0.2) == 2  # still within the dwell


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="min_confidence"):
        DecisionConfig(min_confidence=1.5)
    with pytest.raises(ValueError, match="negative"):
        DecisionConfig(min_dwell=-1)


def test_a_flat_uninformative_window_is_uncertain_with_its_probabilities_kept(tmp_path):
    path = tiny_checkpoint(tmp_path / "tiny.pt", extra={"min_confidence": 0.5})
    recognizer = Recognizer.from_file(path, device="cpu")
    keypoints = np.full((1, 32, 18, 2), 100.0, np.float32)  # nobody moves, every joint on one spot
    scores = np.full((1, 32, 18), 0.9, np.float32)
    person = TrackedPerson(0, keypoints[0, -1], scores[0, -1])
    p = recognizer.predict(Request(2.0, 60, (person,), (WindowSample((0,), keypoints, scores, (0.0, 2.0)),)))
    assert p.state == "uncertain" and p.label is None and p.people[0].state == "uncertain"
    assert len(p.top_k) == 4 and p.top_k[0][1] < 0.5 and p.probabilities.sum() == pytest.approx(1.0, abs=1e-5)


def test_the_checkpoints_temperature_calibrates_and_its_threshold_is_the_default(tmp_path):
    path = tiny_checkpoint(tmp_path / "tiny.pt", extra={"min_confidence": 0.3})
    window = np.random.default_rng(0).uniform(50, 150, (1, 1, 32, 18, 2)).astype(np.float32)
    plain = Recognizer.from_file(path, device="cpu")
    ckpt = load_checkpoint(path)
    ckpt.extra["temperature"] = 0.01  # sharpens the softmax a hundredfold
    save_checkpoint(ckpt, path)
    sharp = Recognizer.from_file(path, device="cpu")
    assert plain.min_confidence == 0.3 and Recognizer.from_file(path, min_confidence=0.7).min_confidence == 0.7
    batch = np.stack([plain.model_input(window[0], np.full((1, 32, 18), 0.9, np.float32))])
    flat, peaked = plain.forward(batch)[0], sharp.forward(batch)[0]
    assert peaked.max() > flat.max() and peaked.argmax() == flat.argmax()
