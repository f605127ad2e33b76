"""The default model on real footage through the app: real MediaPipe, real videos, the shipped checkpoint."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from conftest import shared_path

from main import main
from stfnet.shipped import DEFAULT_MODEL, resolve_model


def _replay(video, tmp_path, *extra: str) -> list[dict]:
    out = tmp_path / "timeline.json"
    assert main(["replay", str(video), "--out", str(out), *extra]) == 0
    return json.loads(out.read_text())["predictions"]


def _majority(predictions: list[dict], start: float = 0.0, end: float = float("inf")) -> str | None:
    labels = Counter(p["label"] for p in predictions if p["state"] == "ok" and start <= p["time"] <= end)
    return labels.most_common(1)[0][0] if labels else None


@pytest.mark.slow
def test_the_default_model_is_the_exercise_model():
    assert DEFAULT_MODEL == "exercise" and resolve_model(None).name == "exercise.pt"


@pytest.mark.slow
@pytest.mark.parametrize("clip, label", [
    ("pullup_01.mp4", "pullup"), ("jumping_jacks_01.mp4", "jumping_jacks"),
    ("squat_01.mp4", "squat"),  # a goblet squat: right only through the arms-free second reading (stfnet.arms_free)
])
def test_labelled_clips_are_recognised(tmp_path, clip, label):
    video = shared_path("videos", "labelled", clip)
    assert _majority(_replay(video, tmp_path)) == label


@pytest.mark.slow
def test_a_kinetics_clip_of_clean_and_jerk_reads_clean_and_jerk(tmp_path):
    predictions = _replay(shared_path("videos", "stgcn_clean_and_jerk.mp4"), tmp_path)
    assert _majority(predictions) == "clean_and_jerk"


@pytest.mark.slow
def test_people_far_away_and_no_listed_action_give_no_person_or_uncertain(tmp_path):
    predictions = _replay(shared_path("videos", "opencv_vtest.avi"), tmp_path, "--every-ms", "1000")
    states = Counter(p["state"] for p in predictions)
    assert (states["no_person"] + states["uncertain"] + states["warming_up"]) / len(predictions) > 0.5, states
