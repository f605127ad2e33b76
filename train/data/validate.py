"""The one dataset validator, run on every dataset as it is loaded, before anything trains or evaluates on it.

Checked, in one pass over the samples (linear in their number and size):

- every annotation is a dict with a unique text ``frame_dir``, an integer ``label`` and a numeric ``keypoint``
  array of shape ``(M, T, V, C)`` with at least one person, one frame and one joint, and 2 or 3 coordinates;
- every sample has the joint and coordinate counts of the first one (one model reads them all);
- ``keypoint_score``, when present, is numeric with the shape ``(M, T, V)``;
- labels lie within the class list (``classes``), or are at least 0 when the file has none;
- ``classes`` is a list of unique names; ``split`` maps names to lists of sample names; ``fps`` (the dataset's
  or a sample's) is a frame rate between 0.1 and 1000.

NaN and infinite values are **missing joints**, not errors: some pose tools write NaN for a joint they did not
find. Such a joint's coordinates become 0 and its score 0, exactly what a converter writes for a joint it did not
see, and the loader prints how many joints it treated so. A problem gives one sentence naming the file and the
sample (``DatasetError``).
"""

from __future__ import annotations

import sys
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np

from stfnet.errors import DatasetError

MAX_FPS = 1000.0
MIN_FPS = 0.1


def validate_dataset(data: dict[str, Any], path: str | Path) -> dict[str, Any]:
    """Check ``data`` (a dict with ``annotations``), replace non-finite joints by missing ones; returns ``data``."""
    classes = data.get("classes")
    if classes is not None:
        if not isinstance(classes, list | tuple) or not all(isinstance(c, str) for c in classes):
            raise DatasetError(f"{path}: 'classes' must be a list of class names")
        if len(set(classes)) != len(classes):
            raise DatasetError(f"{path}: 'classes' names a class twice")
    _check_fps(data.get("fps"), f"{path}: the dataset's 'fps'")
    annotations = data["annotations"]
    if not isinstance(annotations, list):
        raise DatasetError(f"{path}: 'annotations' must be a list of samples")
    split = data.get("split", {})
    if not isinstance(split, dict) or not all(isinstance(k, str) and isinstance(v, list | tuple)
                                              for k, v in split.items()):
        raise DatasetError(f"{path}: 'split' must map split names to lists of sample names")
    names: set[str] = set()
    first_shape: tuple[int, int] | None = None  # (V, C) of the first sample
    treated = 0
    for i, ann in enumerate(annotations):
        if not isinstance(ann, dict):
            raise DatasetError(f"{path}: annotation {i} is not a dict")
        missing = {"frame_dir", "label", "keypoint"} - set(ann)
        if missing:
            raise DatasetError(f"{path}: annotation {i} lacks {', '.join(sorted(missing))}")
        name = ann["frame_dir"]
        where = f"{path}, sample {name!r}"
        if not isinstance(name, str):
            raise DatasetError(f"{path}: annotation {i} has a frame_dir that is not text ({type(name).__name__})")
        if name in names:
            raise DatasetError(f"{where} appears twice: every frame_dir must be unique")
        names.add(name)
        _check_label(ann["label"], classes, where)
        _check_fps(ann.get("fps"), f"{where}: 'fps'")
        shape, fixed = check_sample(ann, where)
        treated += fixed
        if first_shape is None:
            first_shape = shape
        elif shape != first_shape:
            raise DatasetError(f"{where} has {shape[0]} joints with {shape[1]} coordinates but the first sample "
                               f"has {first_shape[0]} with {first_shape[1]}: a dataset holds one skeleton layout")
    if treated:
        print(f"warning: {path}: {treated} joints with NaN or infinite values are treated as missing (score 0)",
              file=sys.stderr)
    return data


def _check_label(label: Any, classes: list[str] | None, where: str) -> None:
    if isinstance(label, bool) or not isinstance(label, Integral):
        raise DatasetError(f"{where}: label {label!r} is not an integer")
    if label < 0 or (classes is not None and label >= len(classes)):
        known = f"0 to {len(classes) - 1}" if classes is not None else "0 or more"
        raise DatasetError(f"{where}: label {int(label)} is outside the class list ({known})")


def _check_fps(fps: Any, what: str) -> None:
    if fps is None:
        return
    if isinstance(fps, bool) or not isinstance(fps, Real) or not MIN_FPS <= float(fps) <= MAX_FPS:
        raise DatasetError(f"{what} is {fps!r}; a frame rate lies between {MIN_FPS} and {MAX_FPS:.0f}")


def _numeric(value: Any, field: str, where: str) -> np.ndarray:
    if not isinstance(value, np.ndarray | list | tuple):
        raise DatasetError(f"{where}: '{field}' is a {type(value).__name__}, not an array")
    try:
        array = np.asarray(value)
    except ValueError:  # ragged nested lists
        raise DatasetError(f"{where}: '{field}' is not a rectangular array") from None
    if array.dtype.kind not in "iuf":
        raise DatasetError(f"{where}: '{field}' holds {array.dtype} values, not numbers")
    return array


def check_sample(ann: dict[str, Any], where: str) -> tuple[tuple[int, int], int]:
    """Check one sample's ``keypoint`` and ``keypoint_score`` and store them as arrays, with non-finite joints
    made missing; returns (V, C) and how many joints were made missing."""
    shape = _check_arrays(ann, where)
    return shape, _missing_for_non_finite(ann)


def _check_arrays(ann: dict[str, Any], where: str) -> tuple[int, int]:
    keypoint = _numeric(ann["keypoint"], "keypoint", where)
    if keypoint.ndim != 4:
        raise DatasetError(f"{where}: 'keypoint' has shape {keypoint.shape}, expected (persons, frames, joints, "
                           "coordinates)")
    m, t, v, c = keypoint.shape
    if m == 0 or t == 0 or v == 0:
        raise DatasetError(f"{where}: 'keypoint' has shape {keypoint.shape}: no persons, frames or joints")
    if c not in (2, 3):
        raise DatasetError(f"{where}: 'keypoint' has {c} coordinates per joint; 2 or 3 are supported")
    ann["keypoint"] = keypoint
    if ann.get("keypoint_score") is not None:
        score = _numeric(ann["keypoint_score"], "keypoint_score", where)
        if score.shape != keypoint.shape[:3]:
            raise DatasetError(f"{where}: 'keypoint_score' has shape {score.shape}, expected {keypoint.shape[:3]} "
                               "(the keypoints' persons, frames and joints)")
        ann["keypoint_score"] = score
    return v, c


def _missing_for_non_finite(ann: dict[str, Any]) -> int:
    """Zero the coordinates and scores of joints with a NaN or infinite value; returns how many there were."""
    keypoint, score = ann["keypoint"], ann.get("keypoint_score")
    if keypoint.dtype.kind != "f" and (score is None or score.dtype.kind != "f"):
        return 0  # integers are always finite
    bad = ~np.isfinite(keypoint).all(axis=-1)  # (M, T, V)
    if score is not None:
        bad |= ~np.isfinite(score)
    count = int(bad.sum())
    if count:
        keypoint = keypoint.copy()  # loaded arrays may be read-only
        keypoint[bad] = 0
        ann["keypoint"] = keypoint
        if score is not None:
            score = score.copy()
            score[bad] = 0
            ann["keypoint_score"] = score
    return count
