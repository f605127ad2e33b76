"""Which samples train, which validate, which test: chosen from the dataset's own splits, never by looking at
the test samples.

    plan = plan_splits(data, train="auto", val=None, test="auto", val_fraction=0.1, seed=0)
    plan.train, plan.val, plan.test   # lists of annotations (val may be empty, test may be None)
    plan.notes                        # what was chosen and why, for choices.json

- train: the named split, or (auto) the first of ``train``, ``xsub_train``, ``xview_train``, ``xset_train``.
- test: the named split, or (auto) the training split's counterpart (``xsub_test`` for ``xsub_train``, ``test``
  for ``train``), else ``val`` when the training split is ``train``. Only evaluated once, at the end.
- val: the named split, or carved from the training split: ``val_fraction`` of it, stratified by class. Whole
  subjects are held out instead when the training split names at least ``MIN_SUBJECTS`` subjects (fewer would
  make one held-out subject a large share of the data). A class with fewer than ``MIN_PER_CLASS`` samples keeps
  them all for training (``FINE_TUNE_MIN_PER_CLASS`` when fine-tuning on a user's few samples, where every one
  counts); when no class can spare one there is no validation split, and the notes say so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from stfnet.errors import DatasetError
from train.data.format import split_annotations

TRAIN_NAMES = ("train", "xsub_train", "xview_train", "xset_train")
MIN_SUBJECTS = 8  # hold out whole subjects only when a tenth of them is at least one subject
MIN_PER_CLASS = 3  # a class needs this many training samples to give one to validation
FINE_TUNE_MIN_PER_CLASS = 10  # fine-tuning on a few of the user's own samples: keep them all below this


@dataclass
class SplitPlan:
    train: list[dict[str, Any]]
    val: list[dict[str, Any]]
    test: list[dict[str, Any]] | None
    names: dict[str, str | None]  # which split each role came from ("carved from <train>" for val)
    notes: list[str] = field(default_factory=list)


def resolve_train_split(data: dict[str, Any], name: str) -> str:
    splits = data.get("split", {})
    if name != "auto":
        return name
    for candidate in TRAIN_NAMES:
        if candidate in splits:
            return candidate
    known = ", ".join(sorted(splits)) or "none"
    raise DatasetError(f"the dataset has no training split named {' or '.join(TRAIN_NAMES)} (splits: {known}): "
                       "pass --train-split")


def resolve_test_split(data: dict[str, Any], train: str, name: str | None) -> str | None:
    splits = data.get("split", {})
    if name != "auto":
        return name
    counterpart = train.replace("train", "test")
    if counterpart != train and counterpart in splits:
        return counterpart
    if train == "train" and "val" in splits:
        return "val"
    return None


def carve_validation(annotations: list[dict[str, Any]], fraction: float, seed: int,
                     min_per_class: int = MIN_PER_CLASS) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
    """(train, val, how): about ``fraction`` of the annotations held out, by subject or stratified by class."""
    rng = np.random.default_rng(seed)
    subjects = sorted({a["subject"] for a in annotations if "subject" in a}) if all(
        "subject" in a for a in annotations) else []
    if len(subjects) >= MIN_SUBJECTS:
        count = max(1, round(len(subjects) * fraction))
        held = {subjects[i] for i in rng.permutation(len(subjects))[:count]}
        val = [a for a in annotations if a["subject"] in held]
        how = f"subjects {', '.join(str(s) for s in sorted(held))} held out"
    else:
        by_class: dict[int, list[int]] = {}
        for i, ann in enumerate(annotations):
            by_class.setdefault(int(ann["label"]), []).append(i)
        chosen: set[int] = set()
        for label in sorted(by_class):
            members = sorted(by_class[label], key=lambda i: str(annotations[i]["frame_dir"]))
            if len(members) >= min_per_class:
                count = max(1, round(len(members) * fraction))
                chosen.update(members[j] for j in rng.permutation(len(members))[:count])
        val = [annotations[i] for i in sorted(chosen)]
        how = f"{fraction:.0%} of each class held out at random (seed {seed})"
    held_names = {a["frame_dir"] for a in val}
    return [a for a in annotations if a["frame_dir"] not in held_names], val, how


def plan_splits(data: dict[str, Any], train: str = "auto", val: str | None = None, test: str | None = "auto",
                val_fraction: float = 0.1, seed: int = 0, min_per_class: int = MIN_PER_CLASS) -> SplitPlan:
    train_name = resolve_train_split(data, train)
    test_name = resolve_test_split(data, train_name, test)
    train_set = split_annotations(data, train_name)
    if not train_set:
        raise DatasetError(f"split '{train_name}' of the dataset holds no samples: choose another split")
    notes = [f"training split: {train_name} ({len(train_set)} samples)"]
    if val is not None:
        val_set = split_annotations(data, val)
        if not val_set:
            raise DatasetError(f"split '{val}' of the dataset holds no samples: choose another --val-split")
        val_source = val
        notes.append(f"validation split: {val} ({len(val_set)} samples), as asked")
    else:
        train_set, val_set, how = carve_validation(train_set, val_fraction, seed, min_per_class)
        val_source = f"carved from {train_name}"
        if val_set:
            notes.append(f"validation: {len(val_set)} samples carved from {train_name} ({how})")
        else:
            notes.append(f"no validation split: every class has fewer than {min_per_class} training samples, so "
                         "none is held out; the model is not calibrated and the automatic checks are skipped")
    test_set = split_annotations(data, test_name) if test_name else None
    if test_name and not test_set:
        raise DatasetError(f"split '{test_name}' of the dataset holds no samples: choose another --test-split")
    notes.append(f"test split: {test_name} ({len(test_set)} samples), evaluated once at the end" if test_set
                 else "no test split: only the validation figures are reported")
    overlap = {a["frame_dir"] for a in train_set} & {a["frame_dir"] for a in (test_set or [])}
    if overlap:
        raise DatasetError(f"{len(overlap)} samples are in both the training and the test split, e.g. "
                           f"{sorted(overlap)[0]}: choose disjoint splits")
    return SplitPlan(train_set, val_set, test_set,
                     {"train": train_name, "val": val_source if val_set else None, "test": test_name}, notes)
