"""The one on-disk dataset format: the pyskl / mmaction2 annotation pickle.

    {"split": {"xsub_train": [frame_dir, ...], ...},
     "annotations": [{"frame_dir": str, "label": int, "keypoint": (M, T, V, C) float32,
                      "keypoint_score": (M, T, V) float32 (optional), "total_frames": int,
                      "img_shape": (h, w) (optional)}, ...],
     "classes": [name, ...],   # ours, optional: class names in label order
     "layout": str | dict,     # ours, optional: the skeleton layout the keypoints follow
     "fps": float}             # ours, optional: frames per second of the keypoint sequences

Files prepared for pyskl or mmaction2 load as they are; the two optional keys are ignored by those tools.
mmaction2 0.x wrote a bare list of annotations per split file: it loads as one split named ``all``.
A single annotation dict (one sample, as in PaddleVideo's example) is not a dataset: the loader says so and
points to ``main.py convert pyskl-sample``, which wraps such files into one.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from stfnet.atomic import atomic_open
from stfnet.errors import UserError


class DatasetError(UserError):
    """A dataset file is missing, unreadable or malformed."""


class SampleError(ValueError):
    """One input file of a converter cannot be converted; the message names the file."""


def load_dataset(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"dataset file {path} does not exist")
    try:
        with open(path, "rb") as f:
            data = pickle.load(f)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
        raise DatasetError(f"{path} is not a readable dataset pickle ({type(exc).__name__}: {exc})") from None
    if isinstance(data, list) and all(isinstance(a, dict) for a in data):
        data = {"split": {"all": [a.get("frame_dir") for a in data]}, "annotations": data}
    if isinstance(data, dict) and "annotations" not in data and "keypoint" in data:
        raise DatasetError(f"{path} holds a single pyskl annotation (one sample), not a dataset: wrap such files "
                           f"into one with `main.py convert pyskl-sample`")
    if not isinstance(data, dict) or "annotations" not in data:
        raise DatasetError(f"{path} is not in the pyskl annotation format (a dict with 'annotations')")
    for i, ann in enumerate(data["annotations"]):
        missing = {"frame_dir", "label", "keypoint"} - set(ann)
        if missing:
            raise DatasetError(f"{path}: annotation {i} lacks {', '.join(sorted(missing))}")
    data.setdefault("split", {})
    return data


def save_dataset(data: dict[str, Any], path: str | Path) -> None:
    """Write atomically, so an interrupted conversion never leaves a half-written dataset."""
    with atomic_open(path) as f:
        pickle.dump(data, f, protocol=pickle.HIGHEST_PROTOCOL)


def split_annotations(data: dict[str, Any], split: str) -> list[dict[str, Any]]:
    """The annotations of one split, in the split's order."""
    if split not in data["split"]:
        known = ", ".join(sorted(data["split"])) or "none"
        raise DatasetError(f"the dataset has no split '{split}' (splits: {known})")
    by_name = {ann["frame_dir"]: ann for ann in data["annotations"]}
    missing = [name for name in data["split"][split] if name not in by_name]
    if missing:
        raise DatasetError(f"split '{split}' names {len(missing)} samples without annotations, e.g. {missing[0]}")
    return [by_name[name] for name in data["split"][split]]


def class_names(data: dict[str, Any]) -> list[str]:
    """Class names in label order: the file's own, or ``class_<i>`` when it has none."""
    if data.get("classes"):
        return list(data["classes"])
    num = 1 + max(int(ann["label"]) for ann in data["annotations"])
    return [f"class_{i}" for i in range(num)]


def make_annotation(frame_dir: str, label: int, keypoint: np.ndarray, score: np.ndarray | None = None,
                    img_shape: tuple[int, int] | None = None) -> dict[str, Any]:
    ann: dict[str, Any] = {"frame_dir": frame_dir, "label": int(label),
                           "keypoint": np.ascontiguousarray(keypoint, dtype=np.float32),
                           "total_frames": int(keypoint.shape[1])}
    if score is not None:
        ann["keypoint_score"] = np.ascontiguousarray(score, dtype=np.float32)
    if img_shape is not None:
        ann["img_shape"] = tuple(img_shape)
    return ann


def stratified_split(annotations: list[dict[str, Any]], val_fraction: float, seed: int) -> dict[str, list[str]]:
    """Random ``train`` / ``val`` split with about ``val_fraction`` of every class in ``val``.

    Reproducible from ``seed`` whatever the input order; a class keeps at least one sample in ``train``.
    """
    if not 0 <= val_fraction < 1:
        raise UserError(f"the validation fraction must be in [0, 1), got {val_fraction}")
    rng = np.random.default_rng(seed)
    by_class: dict[int, list[str]] = {}
    for ann in annotations:
        by_class.setdefault(int(ann["label"]), []).append(ann["frame_dir"])
    val: set[str] = set()
    for label in sorted(by_class):
        names = sorted(by_class[label])
        count = min(round(len(names) * val_fraction), len(names) - 1)
        val.update(names[i] for i in rng.permutation(len(names))[:count])
    names = sorted(ann["frame_dir"] for ann in annotations)
    return {"train": [n for n in names if n not in val], "val": [n for n in names if n in val]}
