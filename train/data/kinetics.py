"""Kinetics-skeleton (ST-GCN's release) -> the dataset format, layout ``openpose18``, 2D with scores.

Input root, as ST-GCN ships it::

    ROOT/kinetics_train/<video_id>.json   ROOT/kinetics_train_label.json   -> split "train"
    ROOT/kinetics_val/<video_id>.json     ROOT/kinetics_val_label.json     -> split "val"

A clip's JSON holds ``data``: per frame ``frame_index`` (1-based) and ``skeleton``: per person ``pose``
(x0, y0, x1, y1, ... for 18 OpenPose joints, normalised by the image width and height) and ``score`` (18).
A label file maps ``video_id -> {"has_skeleton": bool, "label": str, "label_index": int}``; clips without a
skeleton are left out, as ST-GCN does. Coordinates are scaled back to pixels of the 340x256 frames the poses
were estimated on (``image_size``), so x and y have the same unit. As in ST-GCN, persons are not tracked:
in every frame the two with the highest summed joint score fill the two person slots, best first.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from stfnet.errors import UserError
from train.data.format import MAX_FRAMES, SampleError, make_annotation

NUM_JOINTS = 18
NUM_PERSONS = 2
SPLITS = ("train", "val")
IMAGE_SIZE = (340, 256)  # width, height of ST-GCN's resized Kinetics videos
FPS = 30  # ST-GCN converted every Kinetics video to 30 frames per second before pose estimation


def split_folder(root: Path, split: str) -> tuple[Path, Path]:
    """(clip folder, label file) of one split."""
    return root / f"kinetics_{split}", root / f"kinetics_{split}_label.json"


def read_labels(path: Path) -> dict[str, dict[str, Any]]:
    """``video_id -> {"has_skeleton", "label", "label_index"}`` from an ST-GCN label file."""
    try:
        labels = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError) as exc:  # ValueError: bad JSON, bad UTF-8, a huge integer
        raise UserError(f"label file {path} cannot be read as JSON ({type(exc).__name__})") from None
    if not isinstance(labels, dict) or not all(isinstance(v, dict) and "label_index" in v for v in labels.values()):
        raise UserError(f"label file {path} is not an ST-GCN Kinetics label file "
                        "({video_id: {\"label_index\": ...}})")
    return labels


def read_clip(path: Path, image_size: tuple[int, int] = IMAGE_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints ``(2, T, 18, 2)`` in pixels and scores ``(2, T, 18)`` of one clip JSON."""
    try:
        clip = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError) as exc:  # ValueError: bad JSON, bad UTF-8, a huge integer
        raise SampleError(f"{path.name} is not readable JSON ({type(exc).__name__})") from None
    frames = clip.get("data") if isinstance(clip, dict) else None
    if not isinstance(frames, list):
        raise SampleError(f"{path.name} has no 'data' list of frames (not a Kinetics-skeleton clip)")
    try:
        length = max((int(f["frame_index"]) for f in frames), default=0)
        if length > MAX_FRAMES:  # the arrays below are allocated for every frame up to the last one
            raise SampleError(f"{path.name} claims frame {length:,}; a clip has at most {MAX_FRAMES:,} (damaged?)")
        keypoint = np.zeros((NUM_PERSONS, length, NUM_JOINTS, 2), np.float32)
        score = np.zeros((NUM_PERSONS, length, NUM_JOINTS), np.float32)
        for f in frames:
            persons = [(np.asarray(p["pose"], np.float32), np.asarray(p["score"], np.float32))
                       for p in f["skeleton"]]
            for pose, sc in persons:
                if pose.shape != (2 * NUM_JOINTS,) or sc.shape != (NUM_JOINTS,):
                    raise SampleError(f"{path.name}, frame {f['frame_index']}: a person needs 36 pose values and "
                                      f"18 scores, found {pose.size} and {sc.size}")
            persons.sort(key=lambda p: -float(p[1].sum()))
            t = int(f["frame_index"]) - 1
            if t < 0:
                raise SampleError(f"{path.name}: frame_index {t + 1} (they start at 1)")
            for m, (pose, sc) in enumerate(persons[:NUM_PERSONS]):
                keypoint[m, t] = pose.reshape(NUM_JOINTS, 2) * np.asarray(image_size, np.float32)
                score[m, t] = sc
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise SampleError(f"{path.name} has a malformed frame ({type(exc).__name__}: {exc})") from None
    if length == 0 or not score.any():
        raise SampleError(f"{path.name} has no skeleton in any frame")
    keypoint[score == 0] = 0  # OpenPose writes (0, 0) for joints it missed; keep them exactly unseen
    return keypoint, score


def convert_file(path: Path, labels: dict[str, dict[str, Any]],
                 image_size: tuple[int, int] = IMAGE_SIZE) -> dict[str, Any] | None:
    """One annotation, or None for a clip its label file marks as having no skeleton."""
    video_id = path.stem
    if video_id not in labels:
        raise SampleError(f"{path.name} is not in the split's label file")
    info = labels[video_id]
    if not info.get("has_skeleton", True):
        return None
    keypoint, score = read_clip(path, image_size)
    return make_annotation(video_id, int(info["label_index"]), keypoint, score,
                           img_shape=(image_size[1], image_size[0]))


def class_names(label_files: list[dict[str, dict[str, Any]]]) -> list[str]:
    """Class names by label index, from the label files' ``label`` fields (``class_<i>`` where none is seen)."""
    names: dict[int, str] = {}
    for labels in label_files:
        for info in labels.values():
            names.setdefault(int(info["label_index"]), str(info.get("label", "")))
    count = 1 + max(names, default=-1)
    return [names.get(i) or f"class_{i}" for i in range(count)]
