"""Single pyskl / PoseC3D annotation files (one sample per pickle, as PaddleVideo's example) -> a dataset.

A full pyskl or mmaction2 dataset file needs no conversion: ``load_dataset`` reads it as it is. A bare annotation
dict is one sample, not a dataset; this wraps a folder of them (or one file) into a dataset with a stratified
random ``train`` / ``val`` split and an ``all`` split. pyskl's 2D keypoints follow COCO-17.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from train.data.format import SampleError, make_annotation

LAYOUT_BY_SHAPE = {(17, 2): "coco17", (18, 2): "openpose18", (25, 3): "ntu25"}  # (V, C) -> layout
KEPT_FIELDS = ("img_shape", "original_shape")


def find_files(root: Path) -> list[Path]:
    return [root] if root.is_file() else sorted(root.glob("*.pkl"))


def convert_file(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            ann = pickle.load(f)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError) as exc:
        raise SampleError(f"{path.name} is not a readable pickle ({type(exc).__name__})") from None
    if isinstance(ann, dict) and "annotations" in ann:
        raise SampleError(f"{path.name} is already a whole dataset: use it directly, without conversion")
    if not isinstance(ann, dict) or not {"keypoint", "label"} <= set(ann):
        raise SampleError(f"{path.name} is not a pyskl annotation (a dict with 'keypoint' and 'label')")
    keypoint = np.asarray(ann["keypoint"], np.float32)
    score = ann.get("keypoint_score")
    if keypoint.ndim != 4:
        raise SampleError(f"{path.name}: 'keypoint' has shape {keypoint.shape}, expected (M, T, V, C)")
    if score is not None and np.shape(score) != keypoint.shape[:3]:
        raise SampleError(f"{path.name}: 'keypoint_score' has shape {np.shape(score)}, expected "
                          f"{keypoint.shape[:3]}")
    out = make_annotation(str(ann.get("frame_dir") or path.stem), int(ann["label"]), keypoint,
                          None if score is None else np.asarray(score, np.float32))
    out.update({k: ann[k] for k in KEPT_FIELDS if k in ann})
    return out


def guess_layout(annotations: list[dict[str, Any]]) -> str | None:
    """The layout the samples' joint and coordinate counts suggest, when they all agree on one."""
    shapes = {tuple(a["keypoint"].shape[2:]) for a in annotations}
    return LAYOUT_BY_SHAPE.get(shapes.pop()) if len(shapes) == 1 else None
