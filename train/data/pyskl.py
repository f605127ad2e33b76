"""Single pyskl / PoseC3D annotation files (one sample per pickle, as PaddleVideo's example) -> a dataset.

A full pyskl or mmaction2 dataset file needs no conversion: ``load_dataset`` reads it as it is. A bare annotation
dict is one sample, not a dataset; this wraps a folder of them (or one file) into a dataset with a stratified
random ``train`` / ``val`` split and an ``all`` split. pyskl's 2D keypoints follow COCO-17.
"""

from __future__ import annotations

from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np

from train.data import safe_pickle
from train.data.format import SampleError, make_annotation

LAYOUT_BY_SHAPE = {(17, 2): "coco17", (18, 2): "openpose18", (25, 3): "ntu25"}  # (V, C) -> layout
KEPT_FIELDS = ("img_shape", "original_shape")


def find_files(root: Path) -> list[Path]:
    return [root] if root.is_file() else sorted(root.glob("*.pkl"))


def convert_file(path: Path) -> dict[str, Any]:
    try:
        ann = safe_pickle.load_file(path)  # a stranger's file: containers and arrays only, never code
    except safe_pickle.PickleError as exc:
        raise SampleError(f"{path.name} {exc}") from None
    if isinstance(ann, dict) and "annotations" in ann:
        raise SampleError(f"{path.name} is already a whole dataset: use it directly, without conversion")
    if not isinstance(ann, dict) or not {"keypoint", "label"} <= set(ann):
        raise SampleError(f"{path.name} is not a pyskl annotation (a dict with 'keypoint' and 'label')")
    try:
        keypoint = np.asarray(ann["keypoint"], np.float32)
        score = None if ann.get("keypoint_score") is None else np.asarray(ann["keypoint_score"], np.float32)
        label = ann["label"]
        if isinstance(label, bool) or not isinstance(label, Integral):
            raise TypeError(f"label {label!r} is not an integer")
        kept = {k: tuple(int(n) for n in ann[k]) for k in KEPT_FIELDS if k in ann}  # (h, w)
    except (TypeError, ValueError) as exc:
        raise SampleError(f"{path.name} has a malformed field ({exc})") from None
    if keypoint.ndim != 4:
        raise SampleError(f"{path.name}: 'keypoint' has shape {keypoint.shape}, expected (M, T, V, C)")
    if score is not None and score.shape != keypoint.shape[:3]:
        raise SampleError(f"{path.name}: 'keypoint_score' has shape {score.shape}, expected {keypoint.shape[:3]}")
    out = make_annotation(str(ann.get("frame_dir") or path.stem), int(label), keypoint, score)
    out.update(kept)
    return out


def guess_layout(annotations: list[dict[str, Any]]) -> str | None:
    """The layout the samples' joint and coordinate counts suggest, when they all agree on one."""
    shapes = {tuple(a["keypoint"].shape[2:]) for a in annotations}
    return LAYOUT_BY_SHAPE.get(shapes.pop()) if len(shapes) == 1 else None
