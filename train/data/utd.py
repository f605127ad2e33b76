"""UTD-MHAD skeletons (Kinect v1, 20 joints, ``a{A}_s{S}_t{T}_skeleton.mat`` with key ``d_skel``).

Three forms:
- ``ntu25``: 3D, remapped to the NTU layout (joints Kinect v1 lacks get score 0);
- ``kinect20``: 3D in the original order;
- ``openpose18``: the live-style 2D form: remapped to OpenPose-18 and projected orthographically onto an
  image plane as a camera facing the subject would see it, not mirrored (image x = -Kinect x, image y = -Kinect y,
  so y points down and the subject's right side appears on the image's left, as in a webcam frame).
Cross-subject split: subjects 1, 3, 5, 7 train and 2, 4, 6, 8 test.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from stfnet.layouts import remap
from train.data.format import SampleError, make_annotation
from train.data.matfile import load_mat

FORMS = ("ntu25", "kinect20", "openpose18")
TRAIN_SUBJECTS = (1, 3, 5, 7)
FPS = 30  # Kinect v1 skeleton rate
FILE_PATTERN = re.compile(r"a(\d+)_s(\d+)_t(\d+)_skeleton\.mat$")
ACTIONS = (
    "swipe_left", "swipe_right", "wave", "clap", "throw", "arm_cross", "basketball_shoot", "draw_x",
    "draw_circle_CW", "draw_circle_CCW", "draw_triangle", "bowling", "boxing", "baseball_swing", "tennis_swing",
    "arm_curl", "tennis_serve", "push", "knock", "catch", "pickup_throw", "jog", "walk", "sit2stand", "stand2sit",
    "lunge", "squat",
)


def find_files(root: Path) -> list[Path]:
    return sorted((p for p in root.glob("*_skeleton.mat") if FILE_PATTERN.search(p.name)),
                  key=lambda p: tuple(int(g) for g in FILE_PATTERN.search(p.name).groups()))


def read_skeleton(path: Path) -> np.ndarray:
    """(T, 20, 3) joints in metres, Kinect camera space."""
    mat = load_mat(path)
    if "d_skel" not in mat:
        raise SampleError(f"{path.name} has no 'd_skel' array")
    skel = np.asarray(mat["d_skel"], dtype=np.float32)
    if skel.ndim != 3 or skel.shape[:2] != (20, 3) or skel.shape[2] < 2:
        raise SampleError(f"{path.name}: 'd_skel' has shape {skel.shape}, expected (20, 3, frames)")
    return skel.transpose(2, 0, 1)


def convert_file(path: Path, form: str) -> dict:
    """One annotation in the dataset format."""
    action, subject, trial = (int(g) for g in FILE_PATTERN.search(path.name).groups())
    if not 1 <= action <= len(ACTIONS):
        raise SampleError(f"{path.name}: action {action} is not one of UTD-MHAD's 27")
    joints = read_skeleton(path)[None]  # (1, T, 20, 3)
    if form == "kinect20":
        keypoint, score = joints, np.ones(joints.shape[:3], np.float32)
    elif form == "ntu25":
        keypoint, score = remap(joints, None, "kinect20", "ntu25")
    elif form == "openpose18":
        keypoint, score = remap(joints, None, "kinect20", "openpose18")
        keypoint = -keypoint[..., :2]  # orthographic projection; image x and y axes point the other way
    else:
        raise ValueError(f"unknown UTD-MHAD form '{form}': use one of {', '.join(FORMS)}")
    ann = make_annotation(path.stem.replace("_skeleton", ""), action - 1, keypoint, score)
    ann["subject"] = subject
    return ann


def read_action_names(root: Path) -> list[str]:
    """Short action names from ``Action_List.txt`` (``1 right arm swipe to the left (swipe_left)``) if present."""
    listing = root / "Action_List.txt"
    if listing.is_file():
        names = re.findall(r"^\s*\d+\s.*\((\w+)\)\s*$", listing.read_text(errors="replace"), flags=re.M)
        if len(names) == len(ACTIONS):
            return names
    return list(ACTIONS)


def cross_subject_split(annotations: list[dict], train_subjects: tuple[int, ...] = TRAIN_SUBJECTS
                        ) -> dict[str, list[str]]:
    """The standard test subjects (2, 4, 6, 8) always; ``train_subjects`` (a subset of 1, 3, 5, 7 for a
    small-data protocol) train."""
    return {
        "xsub_train": [a["frame_dir"] for a in annotations if a["subject"] in train_subjects],
        "xsub_test": [a["frame_dir"] for a in annotations if a["subject"] not in TRAIN_SUBJECTS],
    }
