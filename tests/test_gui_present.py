"""What the widgets are given: plain functions of Predictions and layouts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from realtime.gui import present
from realtime.recognizer import Prediction
from stfnet.layouts import NTU25, OPENPOSE18


def _prediction(timestamp: float, label: str | None, span: tuple[float, float] = (0.0, 1.0)) -> Prediction:
    tdf = np.linspace(0.2, 0.8, 3 * 8, dtype=np.float32).reshape(3, 8)  # (C, T')
    return Prediction(timestamp=timestamp, frame_index=int(timestamp * 30), state="ok" if label else "warming_up",
                      top_k=((label, 0.9),) if label else (), probabilities=np.zeros(3), mcf_maps={},
                      mcf_grain_weights={}, tdf_weights={1: tdf}, window_span=span, latency_ms=1.0,
                      joint_attention=np.array([0.1, 0.3, 0.6]), keypoints=None,
                      scores=np.array([0.9, 0.0, 0.9]), label=label)


def test_axis_labels_come_from_the_layout():
    assert present.joint_ticks(OPENPOSE18)[:2] == ["0 nose", "1 neck"]
    names = present.part_names(OPENPOSE18)
    assert len(names) == 2 and names[0] == list(OPENPOSE18.joints)
    assert names[1][0] == "nose +4" and names[1][2] == "r_elbow r_wrist"
    assert [len(g) for g in present.part_names(NTU25)] == [25, 10, 5]  # NTU: joints, fine and coarse parts


def test_temporal_curve_is_the_channel_mean_over_the_window():
    x, y = present.temporal_curve(_prediction(3.0, "wave", span=(1.0, 3.0)), 1)
    profile = np.linspace(0.2, 0.8, 24).reshape(3, 8).mean(axis=0)
    np.testing.assert_allclose(y, profile / profile.mean() - 1, rtol=1e-6)  # each frame against the mean frame
    assert x[0] == pytest.approx(-2.0 + 0.125) and x[-1] == pytest.approx(-0.125)  # frame centres, seconds


def test_joint_colours_rank_the_joints_in_view():
    attention = present.joint_colouring(_prediction(1.0, "wave"), "attention")
    np.testing.assert_allclose(attention, [0.0, 0.4, 1.0])  # stretched over joints 0 and 2, those in view
    assert present.joint_colouring(_prediction(1.0, None), "attention") is None


def test_history_merges_labels_into_segments_and_forgets_old_ones():
    history = present.LabelHistory(seconds=10.0)
    labels = ("wave", "clap")
    for t, label in [(0.0, None), (1.0, "wave"), (2.0, "wave"), (3.0, "clap"), (4.0, "clap")]:
        history.add(_prediction(t, label), labels)
    segments = history.segments()
    assert [(s.start, s.end, s.text, s.label_index) for s in segments] == [
        (0.0, 1.0, "warming up", None), (1.0, 3.0, "wave", 0), (3.0, 4.0, "clap", 1)]
    history.add(_prediction(14.5, "clap"), labels)
    assert history.span == (4.5, 14.5) and [s.text for s in history.segments()] == ["clap"]
    history.add(_prediction(2.0, "wave"), labels)  # time went back (a seek): start over
    assert [(s.start, s.text) for s in history.segments()] == [(2.0, "wave")]


def test_rate_meter_counts_the_last_second():
    meter = present.RateMeter()
    for i in range(30):
        meter.tick(i / 20)
    assert meter.rate(29 / 20) == pytest.approx(21)


def test_joints_are_coloured_by_class_evidence_by_default():
    shown = dataclasses.replace(_prediction(1.0, "wave"), evidence=np.array([[0.5, 9.0, 1.0], [0.5, 9.0, 2.0]]))
    np.testing.assert_allclose(shown.joint_evidence, [1.0, 18.0, 3.0])
    # Stretched over the joints in view (0 and 2); joint 1, out of view and not drawn, does not set the scale.
    np.testing.assert_allclose(present.joint_colouring(shown), [0.0, 1.0, 1.0])
    uncertain = dataclasses.replace(shown, state="uncertain", label=None)
    assert present.joint_colouring(uncertain) is not None  # an uncertain window still shows what it looked at


def test_a_map_can_be_shown_as_its_difference_from_the_usual_on_a_fixed_scale():
    maps = [np.array([[0.2, 0.8], [0.5, 0.5]]), np.array([[1.0], [1.0]])]
    shown = dataclasses.replace(_prediction(1.0, "wave"), mcf_maps={9: maps})
    views = {"means": {"mcf/9/0": [[0.5, 0.5], [0.5, 0.5]]}, "ranges": {"mcf/9/0": [0.1, 0.9]},
             "difference_ranges": {"mcf/9/0": [-0.2, 0.4]}}
    difference = present.block_maps(shown, 9, views["means"])
    np.testing.assert_allclose(difference[0], [[-0.3, 0.3], [0.0, 0.0]])
    np.testing.assert_allclose(difference[1], maps[1])  # no mean measured for that grain: shown as it is
    assert present.map_levels(views, 9, 0, difference=False) == (0.1, 0.9)
    assert present.map_levels(views, 9, 0, difference=True) == (-0.4, 0.4)  # centred: "as usual" in the middle
    assert present.map_levels(views, 9, 1, difference=False) is None
