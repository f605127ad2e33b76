"""Penn Action annotations (``NNNN.mat``: hand-annotated 2D joints of 2,326 real videos, 13 joints, 15 classes).

Each file holds ``x``, ``y`` and ``visibility`` (frames x 13), ``dimensions`` (height, width, frames), ``action``,
``pose`` (the camera view) and ``train`` (1: train split, -1: test split). Two forms:

- ``openpose18``: the live layout (the head stands in for the nose, the neck is the shoulders' midpoint, eyes and
  ears are unseen), so a model trained on it runs on MediaPipe's skeletons;
- ``penn13``: the dataset's own 13 joints.

Penn's files name the sides the other way round from the person's own: in 86 % of front-view frames the joint
listed as "left shoulder" is on the image's left, which is the person's right (and in back views on the image's
right). MediaPipe names sides as the person's own, so the converter swaps them. Occluded joints keep their
annotated position with score 0 (``visibility``), as MediaPipe's hidden joints get score 0 live.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from stfnet.layouts import remap
from train.data.format import MAX_FRAMES, SampleError, make_annotation
from train.data.matfile import load_mat

FORMS = ("openpose18", "penn13")
FPS = 30.0  # Penn Action's videos are about 30 frames per second
ACTIONS = ("baseball_pitch", "baseball_swing", "bench_press", "bowl", "clean_and_jerk", "golf_swing", "jump_rope",
           "jumping_jacks", "pullup", "pushup", "situp", "squat", "strum_guitar", "tennis_forehand", "tennis_serve")
FILE_PATTERN = re.compile(r"^\d+\.mat$")
# Penn's column order is head, then (left, right) pairs; the "left" column holds the person's right side.
SIDE_SWAP = (0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11)


def find_files(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("*.mat") if FILE_PATTERN.match(p.name))


def _field(mat: dict[str, Any], name: str, path: Path) -> np.ndarray:
    if name not in mat:
        raise SampleError(f"{path.name} has no '{name}' field: not a Penn Action annotation file")
    return np.asarray(mat[name])


def _text(mat: dict[str, Any], name: str, path: Path) -> str:
    value = _field(mat, name, path).ravel()
    if value.size != 1 or not isinstance(value[0], str):
        raise SampleError(f"{path.name}: '{name}' is not a text field")
    return str(value[0])


def convert_file(path: Path, form: str) -> dict[str, Any]:
    """One annotation in the dataset format, with ``split`` ("train" or "test") and ``view`` kept."""
    if form not in FORMS:
        raise ValueError(f"unknown Penn Action form '{form}': use one of {', '.join(FORMS)}")
    mat = load_mat(path)
    x, y, visibility = (_field(mat, name, path) for name in ("x", "y", "visibility"))
    if x.ndim != 2 or x.shape[1] != 13 or y.shape != x.shape or visibility.shape != x.shape:
        raise SampleError(f"{path.name}: 'x', 'y' and 'visibility' must all be (frames, 13), got {x.shape}, "
                          f"{y.shape} and {visibility.shape}")
    if not 0 < x.shape[0] <= MAX_FRAMES:
        raise SampleError(f"{path.name} has {x.shape[0]} frames")
    action = _text(mat, "action", path)
    if action not in ACTIONS:
        raise SampleError(f"{path.name}: action '{action}' is not one of Penn Action's 15")
    flag = _field(mat, "train", path).ravel()
    if flag.size != 1 or int(flag[0]) not in (1, -1):
        raise SampleError(f"{path.name}: 'train' must be 1 or -1")
    keypoint = np.stack([x, y], axis=-1).astype(np.float32)[None][:, :, SIDE_SWAP]  # (1, T, 13, 2)
    score = (visibility > 0).astype(np.float32)[None][:, :, SIDE_SWAP]  # (1, T, 13)
    if not np.isfinite(keypoint).all():
        raise SampleError(f"{path.name} holds non-finite joint positions")
    if form == "openpose18":
        keypoint, score = remap(keypoint, score, "penn13", "openpose18")
    dims = _field(mat, "dimensions", path).ravel()
    img_shape = (int(dims[0]), int(dims[1])) if dims.size >= 2 else None
    ann = make_annotation(path.stem, ACTIONS.index(action), keypoint, score, img_shape)
    ann["split"] = "train" if int(flag[0]) == 1 else "test"
    ann["view"] = _text(mat, "pose", path) if "pose" in mat else ""
    return ann


def splits(annotations: list[dict[str, Any]]) -> dict[str, list[str]]:
    """The files' own train/test flags."""
    return {name: [a["frame_dir"] for a in annotations if a["split"] == name] for name in ("train", "test")}
