"""Training defaults that fit the data: schedule, window, splits, augmentation, diagnostics; never the test split."""

from __future__ import annotations

import argparse
import dataclasses
import json

import numpy as np
import pytest
from train_helpers import tiny_dataset, tiny_train_config

import train.loop
from train import autoconfig
from train.data.format import make_annotation, save_dataset
from train.diagnostics import diagnose
from train.loop import (
    MIRROR_DROP_BOUNDS,
    add_arguments,
    choose_mirror,
    config_from_args,
    earlier_mirror_choice,
    fit,
    mirror_decision,
)
from train.splits import MIN_SUBJECTS, carve_validation, plan_splits


def test_the_schedule_is_counted_in_steps_and_scaled_to_the_dataset():
    small, how = autoconfig.make_schedule(280, 32)
    assert small.steps >= autoconfig.MIN_STEPS and small.steps_per_epoch == 9 and "small dataset" in how
    big, _ = autoconfig.make_schedule(40_000, 32)
    assert big.epochs == autoconfig.PAPER_EPOCHS and big.steps == 65 * 1250
    assert big.decay_steps == (round(0.6 * big.steps), round(0.85 * big.steps))
    assert big.learning_rate(0.1, 0) == pytest.approx(0.01) and big.learning_rate(0.1, big.steps - 1) == pytest.approx(
        0.001)
    ten, _ = autoconfig.make_schedule(10, 32, fine_tune=True)  # ten samples still get a real training run
    assert ten.steps == autoconfig.FINE_TUNE_STEPS[0] and ten.steps_per_epoch == 1
    assert ten.eval_every > 1  # about EVALUATIONS checkpoints, not one per one-step epoch
    asked, how = autoconfig.make_schedule(100, 10, epochs=3)
    assert asked.steps == 30 and "as asked" in how


def test_the_window_is_the_typical_clip_duration():
    anns = [make_annotation(f"c{i}", 0, np.zeros((1, n, 18, 2))) for i, n in enumerate([30, 60, 90])]
    assert autoconfig.window_seconds(anns, 30.0) == 2.0
    anns[0]["fps"] = 15.0  # a clip with its own frame rate keeps it: 30 frames at 15 fps are 2 s
    assert autoconfig.window_seconds(anns, 30.0) == 2.0
    assert autoconfig.window_seconds(anns[1:], None) is None  # no frame rate: whole clips


def test_the_vertical_axis_is_found_in_3d_data():
    rng = np.random.default_rng(0)
    body = rng.normal(0, 0.1, (1, 10, 20, 3))
    body[..., 2] += np.linspace(0, 1.7, 20)  # joints spread 1.7 m along z: z points up
    assert autoconfig.vertical_axis([make_annotation("a", 0, body)], 3) == 2
    assert autoconfig.default_augment(3, vertical=2).vertical == 2 and autoconfig.default_augment(2).squash > 0


def _annotations(per_class: int, classes: int = 3, subjects: int | None = None) -> list[dict]:
    out = []
    for c in range(classes):
        for i in range(per_class):
            ann = make_annotation(f"c{c}_{i}", c, np.zeros((1, 4, 18, 2)))
            if subjects:
                ann["subject"] = i % subjects
            out.append(ann)
    return out


def test_validation_is_carved_by_class_or_by_subject_and_only_when_it_can_be():
    train, val, how = carve_validation(_annotations(10), 0.1, seed=0)
    assert len(val) == 3 and sorted(a["label"] for a in val) == [0, 1, 2] and "each class" in how
    assert not {a["frame_dir"] for a in val} & {a["frame_dir"] for a in train}
    train, val, how = carve_validation(_annotations(20, subjects=MIN_SUBJECTS + 2), 0.1, seed=0)
    held = {a["subject"] for a in val}
    assert len(held) == 1 and not held & {a["subject"] for a in train} and "subjects" in how
    train, val, _ = carve_validation(_annotations(2), 0.1, seed=0)  # two per class: none can be spared
    assert val == [] and len(train) == 6


def test_splits_are_resolved_and_overlaps_refused(tmp_path):
    anns = _annotations(6)
    data = {"annotations": anns, "split": {"xsub_train": [a["frame_dir"] for a in anns[:12]],
                                           "xsub_test": [a["frame_dir"] for a in anns[12:]]}}
    plan = plan_splits(data)
    assert plan.names == {"train": "xsub_train", "val": "carved from xsub_train", "test": "xsub_test"}
    data["split"]["xsub_test"].append(anns[0]["frame_dir"])
    with pytest.raises(Exception, match="both the training and the test split"):
        plan_splits(data)


class _Guarded(dict):
    """An annotation that records when its joints are read."""

    reads: list[str] = []

    def __getitem__(self, key):
        if key in ("keypoint", "keypoint_score"):
            _Guarded.reads.append(dict.__getitem__(self, "frame_dir"))
        return dict.__getitem__(self, key)

    def get(self, key, default=None):
        return self[key] if key in self else default


def test_fine_tuning_defaults_smaller_batches_frozen_blocks_less_augmentation_and_flags_win(tmp_path):
    data = tiny_dataset(tmp_path / "d.pkl")
    parser = argparse.ArgumentParser()
    add_arguments(parser)

    def config(*argv):
        return config_from_args(parser.parse_args(["--data", "d.pkl", "--out", "o", *argv]), data)

    def augment(*argv):
        return config(*argv).augment

    assert (config().batch_size, config().freeze) == (32, 0)
    tuning = config("--init-from", "backbone.pt")
    assert (tuning.batch_size, tuning.freeze) == (autoconfig.FINE_TUNE_BATCH, autoconfig.FINE_TUNE_FREEZE)
    explicit = config("--init-from", "backbone.pt", "--freeze", "0", "--batch-size", "8")
    assert (explicit.freeze, explicit.batch_size) == (0, 8)
    scratch, tuned = augment(), augment("--init-from", "backbone.pt")
    assert scratch == autoconfig.default_augment(2)
    assert scratch.out_of_frame > 0 and scratch.hip_width != (1.0, 1.0)
    assert (tuned.out_of_frame, tuned.drop_joint, tuned.hip_width, tuned.shoulder_width) == (0, 0, (1, 1), (1, 1))
    assert tuned.squash <= 0.1 and tuned.rotate == scratch.rotate and tuned.speed == scratch.speed
    assert augment("--init-from", "backbone.pt", "--out-of-frame", "0.3").out_of_frame == 0.3


@pytest.mark.parametrize("option", ["--batch-size", "--steps", "--epochs"])
def test_a_batch_or_schedule_of_nothing_is_refused_in_one_sentence(option, capsys):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    with pytest.raises(SystemExit) as stop:
        parser.parse_args(["--data", "d.pkl", "--out", "o", option, "0"])
    assert stop.value.code == 2 and f"argument {option}: must be at least 1, got 0" in capsys.readouterr().err


def test_the_automatic_choices_never_read_the_test_split(tmp_path, monkeypatch):
    data = tiny_dataset(tmp_path / "d.pkl", per_class_train=4, per_class_val=2)
    data["split"]["test"] = data["split"].pop("val")
    test_names = set(data["split"]["test"])
    data["annotations"] = [_Guarded(a) if a["frame_dir"] in test_names else a for a in data["annotations"]]
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--data", str(tmp_path / "d.pkl"), "--out", str(tmp_path / "run"), "--frames", "8",
                              "--base-channels", "4", "--batch-size", "4", "--device", "cpu"])
    _Guarded.reads = []
    cfg = config_from_args(args, data)
    monkeypatch.setattr(train.loop, "MIRROR_CHECK_MIN_STEPS", 3)
    choose_mirror(cfg, data)
    assert _Guarded.reads == []  # the defaults and the mirror check looked at training samples only

    finishing = {"now": False}
    original = train.loop.finish
    monkeypatch.setattr(train.loop, "finish", lambda *a, **k: finishing.update(now=True) or original(*a, **k))
    monkeypatch.setattr(_Guarded, "__getitem__", lambda self, key: (
        finishing["now"] or key not in ("keypoint", "keypoint_score") or pytest.fail(
            "the test split was read before the run ended")) and dict.__getitem__(self, key))
    summary = fit(tiny_train_config(tmp_path / "d.pkl", tmp_path / "run2", val_split=None, test_split="test",
                                    epochs=2), data)
    assert summary["test"]["samples"] == len(test_names)  # read once, at the end


def _fit(tmp_path, name, data, **overrides):
    return fit(tiny_train_config(tmp_path / "d.pkl", tmp_path / name, **overrides), data)


def test_diagnostics_fire_on_underfitting_and_overfitting_and_stay_quiet_on_a_healthy_run(tmp_path):
    data = tiny_dataset(tmp_path / "d.pkl", per_class_train=8, per_class_val=4)
    steady = autoconfig.AugmentConfig(rotate=10.0, jitter=0.01)  # no mirror: the classes are left and right limbs
    healthy = _fit(tmp_path, "healthy", data, epochs=40, lr=0.02, batch_size=8, augment=steady)
    assert healthy["final"]["train_top1"] >= 0.9 and healthy["diagnostics"] == []

    underfit = _fit(tmp_path, "underfit", data, epochs=2, lr=1e-6)
    assert "underfitting" in {d["kind"] for d in underfit["diagnostics"]}

    shuffled = tiny_dataset(tmp_path / "d.pkl", per_class_train=8, per_class_val=4)
    rng = np.random.default_rng(1)
    for ann in shuffled["annotations"]:  # labels that have nothing to do with the motion
        ann["label"] = int(rng.integers(3))
    save_dataset(shuffled, tmp_path / "d.pkl")
    overfit = _fit(tmp_path, "overfit", shuffled, epochs=80, lr=0.05, augment=autoconfig.AugmentConfig(
        rotate=0.0, scale=0.0, shift=0.0))
    assert "overfitting" in {d["kind"] for d in overfit["diagnostics"]}


def test_loss_spikes_and_unpredicted_classes_are_reported():
    history = [{"step": s, "train_loss": loss, "train_top1": 0.95} for s, loss in
               [(10, 1.0), (20, 0.5), (30, 0.4), (40, 1.2), (50, 0.3)]]
    kinds = {d["kind"] for d in diagnose(history, [0, 0, 1, 1], ["a", "b", "c"])}
    assert kinds == {"loss_spike", "unpredicted_classes"}
    assert diagnose(history[:3], [0, 1, 2], ["a", "b", "c"]) == []


def test_the_mirror_check_turns_mirroring_off_when_left_and_right_are_the_classes(tmp_path, monkeypatch):
    data = tiny_dataset(tmp_path / "d.pkl", per_class_train=12, per_class_val=2)  # right arm, left arm, right leg
    monkeypatch.setattr(train.loop, "MIRROR_CHECK_MIN_STEPS", 120)
    cfg = tiny_train_config(tmp_path / "d.pkl", tmp_path / "run", val_split=None, test_split=None, epochs=None,
                            lr=0.05, augment=autoconfig.AugmentConfig(rotate=0.0, scale=0.0, shift=0.0))
    mirror, outcome = choose_mirror(cfg, data)
    assert outcome["val_top1"] - outcome["val_top1_mirrored"] > MIRROR_DROP_BOUNDS[1] and mirror == 0.0
    assert "val_top1_with_mirroring" not in outcome  # clear enough: no second run
    assert not list((tmp_path / "run" / "mirror-check").glob("*.pt"))  # only the figures are kept
    assert (tmp_path / "run" / "mirror-check" / "metrics.json").is_file()


@pytest.mark.parametrize(("plain", "mirrored", "with_mirroring", "expected"), [
    (0.90, 0.88, None, 0.5),  # mirror images read as well: harmless
    (0.90, 0.50, None, 0.0),  # UTD-MHAD-like: the sides are the classes
    (0.86, 0.75, None, None),  # Penn Action-like: unfamiliar, not necessarily wrong; a run with mirroring decides
    (0.86, 0.75, 0.88, 0.5),
    (0.86, 0.75, 0.80, 0.0),
])
def test_the_mirror_decision(plain, mirrored, with_mirroring, expected):
    assert mirror_decision(plain, mirrored, with_mirroring) == expected


def test_a_resumed_run_keeps_its_mirror_choice_instead_of_checking_again(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    cfg = tiny_train_config(tmp_path / "d.pkl", out, resume=True)
    (out / "choices.json").write_text(json.dumps({"mirror_check": {"mirror": 0.0, "how": "checked"}}))
    assert earlier_mirror_choice(cfg) is None  # nothing to resume yet: the check runs
    (out / "last.pt").write_bytes(b"")
    assert earlier_mirror_choice(cfg) == (0.0, {"mirror": 0.0, "how": "checked"})
    assert earlier_mirror_choice(dataclasses.replace(cfg, resume=False)) is None
    (out / "choices.json").write_text("{not json")
    assert earlier_mirror_choice(cfg) is None
