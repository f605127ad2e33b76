"""Training-time augmentation (ST-GCN / 2s-AGCN style, plus what live pose estimates need).

Temporal: a random crop of the sequence, resampled uniformly to the model's window.
Before normalisation, on scores: joints or body regions made unseen (webcams often miss legs; pose
estimators miss joints). After normalisation, on coordinates: rotation, scaling, shift, jitter, mirror.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from stfnet.features import resample_indices
from stfnet.layouts import Layout

LOWER_BODY = ("knee", "ankle", "foot", "heel", "toe")


@dataclass(frozen=True)
class AugmentConfig:
    crop: tuple[float, float] = (0.8, 1.0)  # fraction of the sequence kept by the random temporal crop
    rotate: float = 15.0  # max rotation in degrees: about the vertical axis (3D) or in the image plane (2D)
    scale: float = 0.1  # max relative scale change, per axis
    shift: float = 0.1  # max shift, in normalised units (mean bone lengths)
    jitter: float = 0.0  # std of per-joint, per-frame noise, in normalised units
    drop_joint: float = 0.0  # chance that each joint is unseen for the whole sequence
    drop_lower_body: float = 0.0  # chance that knees, ankles and feet are unseen (upper-body webcam view)
    mirror: float = 0.0  # chance of a left-right mirror (x negated, l_ and r_ joints swapped)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


NO_AUGMENT = AugmentConfig(crop=(1.0, 1.0), rotate=0.0, scale=0.0, shift=0.0)


def crop_window(length: int, num_frames: int, crop: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    """Frame indices of a random crop covering ``crop`` of the sequence, resampled to ``num_frames``."""
    span = length * rng.uniform(*crop)
    start = rng.uniform(0, length - span)
    return resample_indices(length, num_frames, start=start, span=span)


def drop_scores(scores: np.ndarray, layout: Layout, cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """Scores ``(M, T, V)`` with some joints made unseen for the whole sequence."""
    scores = scores.copy()
    if cfg.drop_joint > 0:
        scores[:, :, rng.random(layout.num_joints) < cfg.drop_joint] = 0
    if cfg.drop_lower_body > 0 and rng.random() < cfg.drop_lower_body:
        scores[:, :, [j for j, n in enumerate(layout.joints) if any(k in n for k in LOWER_BODY)]] = 0
    return scores


def mirror_permutation(layout: Layout) -> list[int]:
    """For each joint, the joint it becomes in a mirror image (``l_x`` <-> ``r_x``; others stay)."""
    index = {name: j for j, name in enumerate(layout.joints)}
    swap = {"l_": "r_", "r_": "l_"}
    return [index.get(swap[n[:2]] + n[2:], j) if n[:2] in swap else j for j, n in enumerate(layout.joints)]


def augment_coords(x: np.ndarray, layout: Layout, coords: int, cfg: AugmentConfig,
                   rng: np.random.Generator) -> np.ndarray:
    """Random rotation, scale, shift, jitter and mirror of normalised input ``(C, T, V, M)``.

    Unseen joints (all coordinates exactly zero) stay at zero; a score channel is left alone.
    """
    x = x.copy()
    xyz = x[:coords]  # a view
    seen = np.abs(xyz).sum(axis=0, keepdims=True) > 0  # (1, T, V, M)
    matrix = _rotation(coords, np.deg2rad(cfg.rotate), rng) * (1 + rng.uniform(-cfg.scale, cfg.scale, coords))
    xyz[:] = np.einsum("ij,jtvm->itvm", matrix, xyz)
    xyz += rng.uniform(-cfg.shift, cfg.shift, (coords, 1, 1, 1))
    if cfg.jitter > 0:
        xyz += rng.normal(0, cfg.jitter, xyz.shape)
    if cfg.mirror > 0 and rng.random() < cfg.mirror:
        xyz[0] = -xyz[0]
        x[:] = x[:, :, mirror_permutation(layout)]
        seen = seen[:, :, mirror_permutation(layout)]
    xyz *= seen
    return x.astype(np.float32)


def _rotation(coords: int, max_angle: float, rng: np.random.Generator) -> np.ndarray:
    """A random rotation: in the plane (2D), or mostly about the vertical y axis with a little tilt (3D)."""
    if max_angle == 0:
        return np.eye(coords)
    if coords == 2:
        a = rng.uniform(-max_angle, max_angle)
        return np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    ay = rng.uniform(-max_angle, max_angle)
    ax, az = rng.uniform(-max_angle / 3, max_angle / 3, 2)
    rot_y = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rot_x = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    rot_z = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rot_y @ rot_x @ rot_z
