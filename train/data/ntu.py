"""NTU RGB+D 60 / 120 raw ``.skeleton`` files (Kinect v2, 25 joints) -> the dataset format, layout ``ntu25``.

A file is text: the frame count; per frame a body count; per body a line of 10 fields (bodyID clipedEdges
handLeftConfidence handLeftState handRightConfidence handRightState isResticted leanX leanY trackingState),
the joint count (25) and one line per joint of 12 numbers (x y z depthX depthY colorX colorY orientationW
orientationX orientationY orientationZ trackingState); only x, y, z (metres, camera space) are kept.
A sample's name ``SsssCcccPpppRrrrAaaa`` gives setup, camera, performer (subject), replication and action.

Bodies are told apart by bodyID, then pre-normalised as in 2s-AGCN (``train.data.prenorm``).
Splits: NTU60 ``xsub`` (the official training subjects) and ``xview`` (cameras 2 and 3 train); NTU120 ``xsub``
(its training subjects) and ``xset`` (even setup ids train), each as ``<name>_train`` / ``<name>_test``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from train.data.format import SampleError, make_annotation
from train.data.prenorm import pre_normalize

NUM_JOINTS = 25
FPS = 30  # Kinect v2 skeleton rate
MAX_FRAMES = 10_000  # 5.5 minutes; NTU's samples last seconds, so a file claiming more is broken
MAX_BODIES = 16  # bodyIDs in one sample; Kinect tracks at most 6 at a time
NAME_PATTERN = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")
XSUB60_TRAIN = (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38)
XSUB120_TRAIN = XSUB60_TRAIN + (45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84,
                                85, 86, 89, 91, 92, 93, 94, 95, 97, 98, 100, 103)
XVIEW_TRAIN_CAMERAS = (2, 3)


def find_files(root: Path) -> list[Path]:
    """Every ``.skeleton`` file under ``root`` (NTU120 ships in two folders), sorted by sample name."""
    return sorted(root.rglob("*.skeleton"), key=lambda p: p.name)


def parse_name(name: str) -> dict[str, int]:
    match = NAME_PATTERN.fullmatch(name)
    if match is None:
        raise SampleError(f"{name}: not an NTU sample name (SsssCcccPpppRrrrAaaa)")
    fields = ("setup", "camera", "subject", "replication", "action")
    return dict(zip(fields, (int(g) for g in match.groups()), strict=True))


def read_skeleton(path: Path) -> np.ndarray:
    """``(B, T, 25, 3)`` joints of every body (by bodyID, in order of appearance); zeros where a body is absent."""
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SampleError(f"{path.name} cannot be read ({type(exc).__name__})") from None
    pos = 0

    def next_line(what: str) -> str:
        nonlocal pos
        if pos >= len(lines):
            raise SampleError(f"{path.name} ends early at line {pos + 1}, where {what} should be (truncated?)")
        pos += 1
        return lines[pos - 1]

    def next_int(what: str) -> int:
        text = next_line(what)
        try:
            return int(text.strip())
        except ValueError:
            raise SampleError(f"{path.name}, line {pos}: expected {what}, found '{text.strip()[:40]}'") from None

    num_frames = next_int("the frame count")
    if num_frames > MAX_FRAMES:
        raise SampleError(f"{path.name} claims {num_frames:,} frames; an NTU sample has at most {MAX_FRAMES:,} "
                          "(damaged?)")
    slots: dict[str, int] = {}  # bodyID -> body slot
    placed: list[tuple[int, int, int]] = []  # (slot, frame, first joint line) of every body in every frame
    for frame in range(num_frames):
        for _ in range(next_int(f"the body count of frame {frame + 1}")):
            fields = next_line("a body's info line").split()
            if len(fields) != 10:
                raise SampleError(f"{path.name}, line {pos}: a body's info line needs 10 fields, found {len(fields)}")
            joints = next_int("the joint count")
            if joints != NUM_JOINTS:
                raise SampleError(f"{path.name}, line {pos}: {joints} joints, NTU bodies have {NUM_JOINTS}")
            if pos + NUM_JOINTS > len(lines):
                raise SampleError(f"{path.name} ends early at line {len(lines) + 1}, inside a body's joints "
                                  "(truncated?)")
            placed.append((slots.setdefault(fields[0], len(slots)), frame, pos))
            if len(slots) > MAX_BODIES:  # every body gets a slot in every frame: slots x frames are allocated
                raise SampleError(f"{path.name} has more than {MAX_BODIES} different bodies (damaged?)")
            pos += NUM_JOINTS
    bodies = np.zeros((len(slots), num_frames, NUM_JOINTS, 3), np.float32)
    if not placed:
        return bodies
    tokens: list[str] = []
    for _, _, start in placed:
        for i in range(start, start + NUM_JOINTS):
            parts = lines[i].split()
            if len(parts) != 12:
                raise SampleError(f"{path.name}, line {i + 1}: a joint line needs 12 numbers, found {len(parts)} "
                                  "fields")
            tokens.extend(parts)
    try:
        values = np.array(tokens, dtype=np.float64).reshape(len(placed), NUM_JOINTS, 12)
    except ValueError:
        bad = next(t for t in tokens if not _is_number(t))
        raise SampleError(f"{path.name}: '{bad[:20]}' in a joint line is not a number") from None
    for (slot, frame, _), joints in zip(placed, values, strict=True):
        bodies[slot, frame] = joints[:, :3]
    return bodies


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def convert_file(path: Path, min_frames: int = 0, vertical: str = "y") -> dict[str, Any]:
    """One annotation, with the sample's setup, camera, subject and replication kept for the splits."""
    name = path.name.removesuffix(".skeleton")
    info = parse_name(name)
    bodies = read_skeleton(path)
    if not bodies.size or not np.abs(bodies).any():
        raise SampleError(f"{path.name} has no skeleton in any frame (NTU lists such samples as missing: "
                          "pass their list with --missing)")
    keypoint = pre_normalize(bodies, num_bodies=2, min_frames=min_frames, vertical=vertical)  # (2, T, 25, 3)
    # explicit scores: a joint at exactly (0, 0, 0) after centring is still seen
    body_seen = np.abs(keypoint).sum(axis=(2, 3)) > 0  # (2, T)
    score = np.repeat(body_seen[..., None], NUM_JOINTS, axis=2).astype(np.float32)
    ann = make_annotation(name, info["action"] - 1, keypoint, score)
    ann.update(info)
    return ann


def splits(annotations: list[dict[str, Any]], ntu120: bool) -> dict[str, list[str]]:
    """The official benchmarks of NTU60 (xsub, xview) or NTU120 (xsub, xset)."""
    if ntu120:
        rules = {"xsub": lambda a: a["subject"] in XSUB120_TRAIN, "xset": lambda a: a["setup"] % 2 == 0}
    else:
        rules = {"xsub": lambda a: a["subject"] in XSUB60_TRAIN, "xview": lambda a: a["camera"] in XVIEW_TRAIN_CAMERAS}
    out: dict[str, list[str]] = {}
    for bench, is_train in rules.items():
        out[f"{bench}_train"] = [a["frame_dir"] for a in annotations if is_train(a)]
        out[f"{bench}_test"] = [a["frame_dir"] for a in annotations if not is_train(a)]
    return out


def read_missing(path: Path) -> set[str]:
    """Sample names from NTU's list of samples with missing skeletons (one per line, ``#`` comments allowed)."""
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            names.add(line.removesuffix(".skeleton"))
    return names
