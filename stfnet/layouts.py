"""Skeleton layouts as data, and remap tables between keypoint sources and layouts.

A layout names its joints, lists its edges as ``(child, parent)`` pairs pointing toward the center joint,
and lists the part grains above the joint level (each grain a list of parts, each part a list of joints).
The edges form a tree rooted at the center: that tree gives every joint one parent, which the bone
stream and the graph partitions rely on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np

from stfnet.errors import LayoutError

MAX_JOINTS = 1000  # more than any body model has; keeps a file's layout (and the V x V graph) small
MAX_LAYOUT_FILE_BYTES = 1_000_000


@dataclass(frozen=True)
class Layout:
    name: str
    joints: tuple[str, ...]
    edges: tuple[tuple[int, int], ...]  # (child, parent), parent one hop closer to the center
    center: int
    parts: tuple[tuple[tuple[int, ...], ...], ...]  # grains above joints: grain -> part -> joint indices

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    @property
    def num_grains(self) -> int:
        """Grains including the joint level itself (the paper's "#Parts")."""
        return 1 + len(self.parts)

    @property
    def parents(self) -> tuple[int, ...]:
        """Parent of every joint; the center is its own parent."""
        parent = list(range(self.num_joints))
        for child, par in self.edges:
            parent[child] = par
        return tuple(parent)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "joints": list(self.joints),
            "edges": [list(e) for e in self.edges],
            "center": self.center,
            "parts": [[list(p) for p in grain] for grain in self.parts],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Layout:
        """A layout from plain data (a JSON file, a checkpoint): every field's type is checked, not coerced."""
        if not isinstance(d, dict):
            raise LayoutError(f"a layout must be a JSON object, not {type(d).__name__}")
        missing = {"name", "joints", "edges", "center", "parts"} - set(d)
        if missing:
            raise LayoutError(f"layout is missing the field(s) {', '.join(sorted(missing))}")
        name = d["name"]
        if not isinstance(name, str) or not 0 < len(name) <= 100:
            raise LayoutError("a layout's 'name' must be text of 1 to 100 characters")
        where = f"layout '{name}'"
        joints = d["joints"]
        if not isinstance(joints, list | tuple) or not all(isinstance(j, str) for j in joints):
            raise LayoutError(f"{where}: 'joints' must be a list of joint names")
        if len(joints) > MAX_JOINTS:
            raise LayoutError(f"{where} has {len(joints)} joints; at most {MAX_JOINTS} are supported")
        if len(set(joints)) != len(joints):
            raise LayoutError(f"{where} names a joint twice: joint names must be unique")
        edges = d["edges"]
        if not isinstance(edges, list | tuple) or not all(
                isinstance(e, list | tuple) and len(e) == 2 and all(map(_is_int, e)) for e in edges):
            raise LayoutError(f"{where}: 'edges' must be a list of [child, parent] joint indices")
        if not _is_int(d["center"]):
            raise LayoutError(f"{where}: 'center' must be a joint index (an integer), not {d['center']!r:.40}")
        parts = d["parts"]
        if not isinstance(parts, list | tuple) or not all(
                isinstance(grain, list | tuple) and all(isinstance(p, list | tuple) and all(map(_is_int, p))
                                                        for p in grain)
                for grain in parts):
            raise LayoutError(f"{where}: 'parts' must be a list of grains, each a list of parts, each a list of "
                              "joint indices")
        return cls(name=name, joints=tuple(joints), edges=tuple((int(c), int(p)) for c, p in edges),
                   center=int(d["center"]), parts=tuple(tuple(tuple(map(int, part)) for part in grain)
                                                        for grain in parts))


def _is_int(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _validate(layout: Layout) -> None:
    """Linear in the joints, edges and parts: the edges must form a tree toward the center."""
    v = len(layout.joints)
    where = f"layout '{layout.name}'"
    if v == 0:
        raise LayoutError(f"{where} has no joints")
    if not 0 <= layout.center < v:
        raise LayoutError(f"{where}: center joint {layout.center} does not exist (it has {v} joints)")
    parent: dict[int, int] = {}
    children: dict[int, list[int]] = {}
    for child, par in layout.edges:
        for j in (child, par):
            if not 0 <= j < v:
                raise LayoutError(f"{where}: edge ({child}, {par}) names joint {j}, which does not exist")
        if child == par:
            raise LayoutError(f"{where}: edge ({child}, {par}) connects a joint to itself")
        if child in parent:
            raise LayoutError(f"{where}: joint {child} ('{layout.joints[child]}') has two parents")
        if child == layout.center:
            raise LayoutError(f"{where}: the center joint {child} cannot have a parent")
        parent[child] = par
        children.setdefault(par, []).append(child)
    reached = _outward(layout.center, children)
    if len(reached) < v:  # walk up from a joint the center does not reach: a cycle, or no path to the center
        reached_set = set(reached)
        j = next(j for j in range(v) if j not in reached_set)
        seen, k = {j}, j
        while k in parent:
            k = parent[k]
            if k in seen:
                raise LayoutError(f"{where}: the edges form a cycle through joint {k}")
            seen.add(k)
        raise LayoutError(f"{where}: joint {j} ('{layout.joints[j]}') is not connected to the center")
    for g, grain in enumerate(layout.parts):
        if not grain:
            raise LayoutError(f"{where}: part grain {g} is empty")
        for p, part in enumerate(grain):
            if not part:
                raise LayoutError(f"{where}: part {p} of grain {g} is empty")
            for j in part:
                if not 0 <= j < v:
                    raise LayoutError(f"{where}: part {p} of grain {g} names joint {j}, which does not exist")


def _outward(center: int, children: dict[int, list[int]]) -> list[int]:
    """Joints reachable from ``center`` by child links, breadth first: a parent always before its children."""
    order = [center]
    for j in order:  # the list grows while it is walked
        order.extend(children.get(j, ()))
    return order


# --- built-in layouts -------------------------------------------------------------------------------------------

OPENPOSE18 = Layout(
    name="openpose18",
    joints=("nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist", "r_hip",
            "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "r_eye", "l_eye", "r_ear", "l_ear"),
    # ST-GCN's Kinetics edge list; the hips hang from the shoulders as in ST-GCN.
    edges=((4, 3), (3, 2), (7, 6), (6, 5), (13, 12), (12, 11), (10, 9), (9, 8), (11, 5), (8, 2), (5, 1), (2, 1),
           (0, 1), (15, 0), (14, 0), (17, 15), (16, 14)),
    center=1,
    # One grain above joints: head, trunk, four limbs.
    parts=(((0, 14, 15, 16, 17), (1, 2, 5, 8, 11), (3, 4), (6, 7), (9, 10), (12, 13)),),
)

NTU25 = Layout(
    name="ntu25",
    joints=("spine_base", "spine_mid", "neck", "head", "l_shoulder", "l_elbow", "l_wrist", "l_hand", "r_shoulder",
            "r_elbow", "r_wrist", "r_hand", "l_hip", "l_knee", "l_ankle", "l_foot", "r_hip", "r_knee", "r_ankle",
            "r_foot", "spine_shoulder", "l_hand_tip", "l_thumb", "r_hand_tip", "r_thumb"),
    # ST-GCN's NTU edge list, 0-based.
    edges=((0, 1), (1, 20), (2, 20), (3, 2), (4, 20), (5, 4), (6, 5), (7, 6), (8, 20), (9, 8), (10, 9), (11, 10),
           (12, 0), (13, 12), (14, 13), (15, 14), (16, 0), (17, 16), (18, 17), (19, 18), (21, 22), (22, 7),
           (23, 24), (24, 11)),
    center=20,
    parts=(
        # fine parts: head, trunk, upper arms, forearms with hands, thighs, shanks with feet
        ((2, 3), (0, 1, 20), (4, 5), (6, 7, 21, 22), (8, 9), (10, 11, 23, 24), (12, 13), (14, 15), (16, 17),
         (18, 19)),
        # coarse parts: head and trunk, two arms, two legs
        ((0, 1, 2, 3, 20), (4, 5, 6, 7, 21, 22), (8, 9, 10, 11, 23, 24), (12, 13, 14, 15), (16, 17, 18, 19)),
    ),
)

COCO17 = Layout(
    name="coco17",
    joints=("nose", "l_eye", "r_eye", "l_ear", "r_ear", "l_shoulder", "r_shoulder", "l_elbow", "r_elbow",
            "l_wrist", "r_wrist", "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle"),
    edges=((15, 13), (13, 11), (16, 14), (14, 12), (11, 5), (12, 6), (9, 7), (7, 5), (10, 8), (8, 6), (5, 0),
           (6, 0), (1, 0), (3, 1), (2, 0), (4, 2)),
    center=0,
    parts=(((0, 1, 2, 3, 4), (5, 6, 11, 12), (7, 9), (8, 10), (13, 15), (14, 16)),),
)

KINECT20 = Layout(
    name="kinect20",
    joints=("head", "shoulder_center", "spine", "hip_center", "l_shoulder", "l_elbow", "l_wrist", "l_hand",
            "r_shoulder", "r_elbow", "r_wrist", "r_hand", "l_hip", "l_knee", "l_ankle", "l_foot", "r_hip", "r_knee",
            "r_ankle", "r_foot"),  # Kinect v1 order as in UTD-MHAD
    edges=((0, 1), (2, 1), (3, 2), (4, 1), (5, 4), (6, 5), (7, 6), (8, 1), (9, 8), (10, 9), (11, 10), (12, 3),
           (13, 12), (14, 13), (15, 14), (16, 3), (17, 16), (18, 17), (19, 18)),
    center=1,
    parts=(
        ((0,), (1, 2, 3), (4, 5), (6, 7), (8, 9), (10, 11), (12, 13), (14, 15), (16, 17), (18, 19)),
        ((0, 1, 2, 3), (4, 5, 6, 7), (8, 9, 10, 11), (12, 13, 14, 15), (16, 17, 18, 19)),
    ),
)

PENN13 = Layout(
    name="penn13",
    joints=("head", "l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist", "l_hip", "r_hip",
            "l_knee", "r_knee", "l_ankle", "r_ankle"),  # Penn Action's order, sides as the person's own
    # No neck joint: the head is the center, the shoulders hang from it and the hips from the shoulders.
    edges=((1, 0), (2, 0), (3, 1), (5, 3), (4, 2), (6, 4), (7, 1), (8, 2), (9, 7), (11, 9), (10, 8), (12, 10)),
    center=0,
    parts=(((0,), (1, 2, 7, 8), (3, 5), (4, 6), (9, 11), (10, 12)),),
)

BUILTIN_LAYOUTS: dict[str, Layout] = {lay.name: lay for lay in (OPENPOSE18, NTU25, COCO17, KINECT20, PENN13)}


def get_layout(name_or_path: str | Path | Layout) -> Layout:
    """A built-in layout by name, or a user's layout from a JSON file with the fields of ``Layout``."""
    if isinstance(name_or_path, Layout):
        return name_or_path
    key = str(name_or_path)
    if key in BUILTIN_LAYOUTS:
        return BUILTIN_LAYOUTS[key]
    path = Path(key)
    if path.suffix.lower() == ".json":
        content = _read_layout_file(path)
        try:
            return Layout.from_dict(content)
        except LayoutError as exc:  # name the file: the message alone does not say which one is wrong
            raise LayoutError(f"{path}: {exc}") from None
    known = ", ".join(sorted(BUILTIN_LAYOUTS))
    raise LayoutError(f"unknown layout '{key}': use one of {known} or a path to a layout .json file")


def _read_layout_file(path: Path) -> Any:
    if not path.is_file():
        raise LayoutError(f"layout file {path} does not exist")
    try:
        content = path.read_bytes() if path.stat().st_size <= MAX_LAYOUT_FILE_BYTES else None
    except OSError as exc:
        raise LayoutError(f"layout file {path} cannot be read ({exc.strerror})") from None
    if content is None:
        raise LayoutError(f"layout file {path} is larger than {MAX_LAYOUT_FILE_BYTES // 1000} kB; a layout is a "
                          "few lines of JSON")
    try:
        return json.loads(content.decode("utf-8"))
    except UnicodeDecodeError:
        raise LayoutError(f"layout file {path} is not UTF-8 text") from None
    except RecursionError:
        raise LayoutError(f"layout file {path} is nested too deeply to be a layout") from None
    except ValueError as exc:  # invalid JSON, or an integer too long to convert
        raise LayoutError(f"layout file {path} is not valid JSON ({str(exc).splitlines()[0][:80]})") from None


def part_pooling(layout: Layout, grain: int) -> np.ndarray:
    """(V, V_i) matrix that averages joints into the parts of ``grain`` (0 = joints themselves)."""
    v = layout.num_joints
    if grain == 0:
        return np.eye(v, dtype=np.float32)
    parts = layout.parts[grain - 1]
    pool = np.zeros((v, len(parts)), dtype=np.float32)
    for p, joints in enumerate(parts):
        pool[list(joints), p] = 1.0 / len(joints)
    return pool


# --- remaps from keypoint sources to layouts --------------------------------------------------------------------

MEDIAPIPE33_JOINTS = (
    "nose", "l_eye_inner", "l_eye", "l_eye_outer", "r_eye_inner", "r_eye", "r_eye_outer", "l_ear", "r_ear",
    "mouth_l", "mouth_r", "l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist", "l_pinky",
    "r_pinky", "l_index", "r_index", "l_thumb", "r_thumb", "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle",
    "r_ankle", "l_heel", "r_heel", "l_foot_index", "r_foot_index",
)
BODY25_JOINTS = (
    "nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist", "mid_hip", "r_hip",
    "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "r_eye", "l_eye", "r_ear", "l_ear", "l_big_toe",
    "l_small_toe", "l_heel", "r_big_toe", "r_small_toe", "r_heel",
)
SOURCE_JOINT_COUNTS = {"mediapipe33": 33, "body25": 25, "kinect20": 20, "coco17": 17, "openpose18": 18, "ntu25": 25,
                       "penn13": 13}

# target joint -> source joints averaged into it; () means the source lacks that joint.
REMAPS: dict[tuple[str, str], tuple[tuple[int, ...], ...]] = {
    ("mediapipe33", "openpose18"): ((0,), (11, 12), (12,), (14,), (16,), (11,), (13,), (15,), (24,), (26,), (28,),
                                    (23,), (25,), (27,), (5,), (2,), (8,), (7,)),
    ("mediapipe33", "penn13"): ((0,), (11,), (12,), (13,), (14,), (15,), (16,), (23,), (24,), (25,), (26,), (27,),
                                (28,)),
    ("mediapipe33", "coco17"): ((0,), (2,), (5,), (7,), (8,), (11,), (12,), (13,), (14,), (15,), (16,), (23,), (24,),
                                (25,), (26,), (27,), (28,)),
    ("body25", "openpose18"): ((0,), (1,), (2,), (3,), (4,), (5,), (6,), (7,), (9,), (10,), (11,), (12,), (13,),
                               (14,), (15,), (16,), (17,), (18,)),
    ("coco17", "openpose18"): ((0,), (5, 6), (6,), (8,), (10,), (5,), (7,), (9,), (12,), (14,), (16,), (11,), (13,),
                               (15,), (2,), (1,), (4,), (3,)),
    # Penn Action has one head joint and no neck: the head stands in for the nose, the neck is between the
    # shoulders, eyes and ears are unseen.
    ("penn13", "openpose18"): ((0,), (1, 2), (2,), (4,), (6,), (1,), (3,), (5,), (8,), (10,), (12,), (7,), (9,), (11,),
                               (), (), (), ()),
    # Kinect v1 has no neck, hand tips or thumbs; its neck is taken halfway between the shoulder center and head.
    ("kinect20", "ntu25"): ((3,), (2,), (1, 0), (0,), (4,), (5,), (6,), (7,), (8,), (9,), (10,), (11,), (12,), (13,),
                            (14,), (15,), (16,), (17,), (18,), (19,), (1,), (), (), (), ()),
    # Kinect v1 has one head joint and no eyes or ears: the head stands in for the nose.
    ("kinect20", "openpose18"): ((0,), (1,), (8,), (9,), (10,), (4,), (5,), (6,), (16,), (17,), (18,), (12,), (13,),
                                 (14,), (), (), (), ()),
}


def remap(keypoints: np.ndarray, scores: np.ndarray | None, source: str, target: str | Layout
          ) -> tuple[np.ndarray, np.ndarray]:
    """Remap ``keypoints (..., V_src, C)`` and ``scores (..., V_src)`` from a source to a layout.

    Joints the source lacks are placed on their parent joint with score 0, so that they add a zero-length bone
    and do not drag centring or scaling; a joint averaged from several sources takes the lowest of their scores.
    """
    layout = get_layout(target)
    if source == layout.name:
        table = tuple((j,) for j in range(layout.num_joints))
    elif (source, layout.name) in REMAPS:
        table = REMAPS[(source, layout.name)]
    else:
        known = ", ".join(f"{s} -> {t}" for s, t in REMAPS)
        raise LayoutError(f"no remap from '{source}' keypoints to layout '{layout.name}' (known: {known})")
    expected = SOURCE_JOINT_COUNTS.get(source, layout.num_joints)
    if keypoints.shape[-2] != expected:
        raise LayoutError(f"'{source}' keypoints need {expected} joints, got {keypoints.shape[-2]}")
    if scores is None:
        scores = np.ones(keypoints.shape[:-1], dtype=np.float32)
    out_kp = np.zeros(keypoints.shape[:-2] + (layout.num_joints, keypoints.shape[-1]), dtype=np.float32)
    out_sc = np.zeros(keypoints.shape[:-2] + (layout.num_joints,), dtype=np.float32)
    for j, sources in enumerate(table):
        if sources:
            out_kp[..., j, :] = keypoints[..., list(sources), :].mean(axis=-2)
            out_sc[..., j] = scores[..., list(sources)].min(axis=-1)
    parents = layout.parents
    for j in _outward_order(layout):
        if not table[j]:
            out_kp[..., j, :] = out_kp[..., parents[j], :]
    return out_kp, out_sc


def _outward_order(layout: Layout) -> list[int]:
    """Joints from the center outward, so a parent always comes before its children."""
    children: dict[int, list[int]] = {}
    for child, par in layout.edges:
        children.setdefault(par, []).append(child)
    return _outward(layout.center, children)
