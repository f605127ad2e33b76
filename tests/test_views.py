"""Attention views chosen by measurement: the defaults change with what the person does."""

from __future__ import annotations

import numpy as np
import torch
from conftest import shared_path
from train_helpers import tiny_dataset

from stfnet.checkpoint import load_checkpoint
from stfnet.features import NormalizeConfig
from stfnet.model import STFNet, STFNetConfig
from stfnet.shipped import resolve_model
from stfnet.views import relative_profile, stretch
from train.analysis.views import MIN_VARIATION, _pick, _score, measure_views
from train.data.convert import convert_utd
from train.data.dataset import SkeletonDataset
from train.data.format import split_annotations


def test_a_view_that_does_not_vary_is_never_the_default():
    labels = np.repeat([0, 1, 2], 4)
    constant = np.ones((12, 5))
    varying = np.random.default_rng(0).normal(size=(12, 5)) + labels[:, None]
    scores = {"flat": _score(constant, labels), "moving": _score(varying, labels)}
    assert scores["flat"] == {"variation": 0.0, "distinctness": 0.0}
    assert scores["moving"]["variation"] > MIN_VARIATION and _pick(scores) == "moving"
    barely = {"a": {"variation": 0.01, "distinctness": 0.9}, "b": {"variation": 0.2, "distinctness": 0.3}}
    assert _pick(barely) == "b"  # distinct but nearly constant loses to one that varies


def test_relative_profiles_and_stretching():
    tdf = np.array([[0.4, 0.5, 0.6], [0.4, 0.5, 0.6]])  # (C, T)
    np.testing.assert_allclose(relative_profile(tdf), [-0.2, 0.0, 0.2])
    np.testing.assert_allclose(stretch(np.array([1.0, 5.0, 3.0])), [0.0, 1.0, 0.5])
    assert stretch(np.array([2.0, 2.0])) is None


def test_uniform_mcf_attention_loses_to_class_evidence(tmp_path):
    data = tiny_dataset(tmp_path / "d.pkl", per_class_train=4)
    model = STFNet(STFNetConfig(layout="openpose18", num_classes=3, base_channels=8, in_channels=3)).eval()
    with torch.no_grad():
        for block in model.blocks:  # zero queries: every joint attends equally to all, whatever the input
            if block.mcf is not None:
                block.mcf.embed.weight.zero_()
                block.mcf.embed.bias.zero_()
    dataset = SkeletonDataset(split_annotations(data, "train"), model.layout, NormalizeConfig(num_frames=8,
                              coords=2, use_score=True), "joint")
    views = measure_views(model, dataset)
    assert all(views["scores"][f"mcf/{b}/{g}"]["variation"] < 1e-6 for b in range(4, 10) for g in (0, 1))
    assert views["joints"]["view"] == "joints/evidence"
    assert views["scores"]["joints/attention"]["variation"] < MIN_VARIATION
    assert np.asarray(views["means"]["mcf/9/1"]).shape == (18, 6)


def test_on_real_gestures_the_default_views_differ_between_classes(tmp_path):
    root = shared_path("data", "utd-mhad")
    args = type("Args", (), {"input": str(root), "form": "openpose18", "on_error": "skip", "labels": None,
                             "train_subjects": None})()
    data = convert_utd(args)
    ckpt = load_checkpoint(resolve_model("gestures"))
    # Eight classes of different kinds (arms, legs, whole body), four training samples each: real skeletons.
    wanted = {"swipe_left", "wave", "clap", "draw_circle_CW", "boxing", "jog", "sit2stand", "squat"}
    classes = data["classes"]
    chosen = [a for a in split_annotations(data, "xsub_train") if classes[a["label"]] in wanted][::2][:32]
    dataset = SkeletonDataset(chosen, ckpt.layout, ckpt.normalize, ckpt.stream, fps=data["fps"])
    views = measure_views(ckpt.build_model("cpu", mirror_average=False), dataset)
    for family in ("mcf", "tdf", "joints"):
        default = views[family]
        candidates = {k: s for k, s in views["scores"].items() if k.startswith(family + "/")}
        varying = [s["distinctness"] for s in candidates.values() if s["variation"] >= MIN_VARIATION]
        assert default["variation"] >= MIN_VARIATION and default["distinctness"] == max(varying)
    # Mean pairwise correlation of the class-mean views shown by default: below 0.8, so they look different.
    assert views["joints"]["distinctness"] > 0.2 and views["tdf"]["distinctness"] > 0.2
    assert views["mcf"]["view"] != "mcf/9/0" or views["mcf"]["distinctness"] > 0.2  # not the old, fixed view
