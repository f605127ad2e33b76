"""Training-time augmentation (ST-GCN / 2s-AGCN style, plus what skeletons from a camera need).

Temporal: a window of the clip as the app cuts one (``window_seconds``, at a random speed; a clip shorter than
the window holds its first and last frame around it, or repeats, as a person who keeps doing the action would),
or, for whole-sequence models, a random crop resampled to the model's window.
Before normalisation, on keypoints and scores: body proportions (a pose estimator puts the hips and shoulders
elsewhere than a human annotator does), joints or body regions made unseen, a picture border cutting the body,
another clip's arms (people do an action holding something else, or holding their arms otherwise).
After normalisation, on coordinates: rotation, scaling, a squash of the horizontal axis (2D: the person seen
from another angle), shift, jitter, mirror.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from stfnet.arms_free import ARM_JOINTS
from stfnet.features import resample_indices, window_indices
from stfnet.layouts import Layout
from stfnet.mirror import mirror_permutation

LOWER_BODY = ("knee", "ankle", "foot", "heel", "toe")


@dataclass(frozen=True)
class AugmentConfig:
    crop: tuple[float, float] = (0.8, 1.0)  # whole-sequence models: fraction of the sequence a random crop keeps
    speed: tuple[float, float] = (1.0, 1.0)  # time windows: the window covers window_seconds x this of the clip
    loop: float = 0.0  # time windows: chance that a clip shorter than the window repeats to fill it
    rotate: float = 15.0  # max rotation in degrees: about the vertical axis (3D) or in the image plane (2D)
    vertical: int = 1  # 3D: the axis pointing up (0 x, 1 y, 2 z), which rotations turn about
    scale: float = 0.1  # max relative scale change, per axis
    squash: float = 0.0  # 2D: max relative shrink of the horizontal axis (the person turned away from the camera)
    shift: float = 0.1  # max shift, in normalised units (mean bone lengths)
    jitter: float = 0.0  # std of per-joint, per-frame noise, in normalised units
    drop_joint: float = 0.0  # chance that each joint is unseen for the whole sequence
    drop_lower_body: float = 0.0  # chance that knees, ankles and feet are unseen (upper-body webcam view)
    drop_arms: float = 0.0  # chance that both arms below the shoulders are unseen
    swap_arms: float = 0.0  # chance that both arms move as in another clip; the label moves by the arms' share
    out_of_frame: float = 0.0  # chance that a picture border cuts the body (joints beyond it unseen)
    hip_width: tuple[float, float] = (1.0, 1.0)  # random factor on the distance between the hips
    shoulder_width: tuple[float, float] = (1.0, 1.0)  # random factor on the distance between the shoulders
    mirror: float = 0.0  # chance of a left-right mirror (x negated, l_ and r_ joints swapped)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


NO_AUGMENT = AugmentConfig(crop=(1.0, 1.0), rotate=0.0, scale=0.0, shift=0.0)


# --- time --------------------------------------------------------------------------------------------------------

def crop_window(length: int, num_frames: int, crop: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    """Frame indices of a random crop covering ``crop`` of the sequence, resampled to ``num_frames``."""
    span = length * rng.uniform(*crop)
    start = rng.uniform(0, length - span)
    return resample_indices(length, num_frames, start=start, span=span)


def time_window(length: int, span: float, num_frames: int, cfg: AugmentConfig,
                rng: np.random.Generator) -> np.ndarray:
    """Frame indices of a random window of ``span`` frames (times a random speed) cut from a clip.

    A longer clip gives a window anywhere inside it. A shorter one either repeats (chance ``cfg.loop``), or sits
    anywhere inside the window with its first frame held before it and its last frame after it.
    """
    span = span * rng.uniform(*cfg.speed)
    if length - 1 > span:
        return window_indices(length, span, num_frames, rng.uniform(0, length - 1 - span))
    if rng.random() < cfg.loop:
        positions = rng.uniform(0, length) + (np.arange(num_frames) + 1) * span / num_frames
        return np.rint(positions).astype(int) % length
    return window_indices(length, span, num_frames, rng.uniform(length - 1 - span, 0))


# --- keypoints and scores, before normalisation --------------------------------------------------------------------

def _pairs(layout: Layout, name: str) -> tuple[int, int] | None:
    joints = layout.joints
    left, right = f"l_{name}", f"r_{name}"
    return (joints.index(left), joints.index(right)) if left in joints and right in joints else None


def reshape_body(keypoints: np.ndarray, layout: Layout, cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """Keypoints ``(M, T, V, C)`` with the hips and the shoulders moved apart or together about their midpoint."""
    keypoints = keypoints.copy()
    for name, (low, high) in (("hip", cfg.hip_width), ("shoulder", cfg.shoulder_width)):
        pair = _pairs(layout, name)
        if pair is None or low == high == 1.0:
            continue
        factor = rng.uniform(low, high)
        left, right = keypoints[..., pair[0], :], keypoints[..., pair[1], :]
        middle = (left + right) / 2
        keypoints[..., pair[0], :] = middle + factor * (left - middle)
        keypoints[..., pair[1], :] = middle + factor * (right - middle)
    return keypoints


def drop_scores(scores: np.ndarray, layout: Layout, cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """Scores ``(M, T, V)`` with some joints made unseen for the whole sequence."""
    scores = scores.copy()
    if cfg.drop_joint > 0:
        scores[:, :, rng.random(layout.num_joints) < cfg.drop_joint] = 0
    if cfg.drop_lower_body > 0 and rng.random() < cfg.drop_lower_body:
        scores[:, :, [j for j, n in enumerate(layout.joints) if any(k in n for k in LOWER_BODY)]] = 0
    if cfg.drop_arms > 0 and rng.random() < cfg.drop_arms:
        scores[:, :, [j for _, arm in arm_joints(layout) for j in arm]] = 0
    return scores


def arm_joints(layout: Layout) -> list[tuple[int, list[int]]]:
    """For each side the layout has: its shoulder and the joints of that arm below it."""
    sides = []
    for side in ("l_", "r_"):
        arm = [layout.joints.index(side + name) for name in ARM_JOINTS if side + name in layout.joints]
        if side + "shoulder" in layout.joints and arm:
            sides.append((layout.joints.index(side + "shoulder"), arm))
    return sides


def _torso_length(keypoints: np.ndarray, scores: np.ndarray, layout: Layout) -> float | None:
    """Median shoulder-to-hip distance of ``(T, V, C)`` over the frames and sides where both joints are seen (in
    a side view one side is often hidden)."""
    shoulders, hips = _pairs(layout, "shoulder"), _pairs(layout, "hip")
    if shoulders is None or hips is None:
        return None
    lengths = [np.linalg.norm(keypoints[:, s] - keypoints[:, h], axis=-1)[(scores[:, s] > 0) & (scores[:, h] > 0)]
               for s, h in zip(shoulders, hips, strict=True)]
    lengths = np.concatenate(lengths)
    length = float(np.median(lengths)) if lengths.size else 0.0
    return length if length > 1e-6 else None


def arm_share(layout: Layout, ignore_joints: tuple[int, ...] = ()) -> float:
    """The arms' share of the joints a model sees: how much of a sample's label goes with swapped arms."""
    arms = {j for _, arm in arm_joints(layout) for j in arm} - set(ignore_joints)
    return len(arms) / max(layout.num_joints - len(set(ignore_joints)), 1)


def swap_arms(keypoints: np.ndarray, scores: np.ndarray, donor_keypoints: np.ndarray, donor_scores: np.ndarray,
              layout: Layout) -> tuple[np.ndarray, np.ndarray] | None:
    """The first person's arms moving as the donor's first person's do: frame by frame, each arm joint sits at the
    donor's offset from the donor's shoulder, scaled by the two torsos' lengths, from this person's shoulder.
    With the label shared by ``arm_share`` (a CutMix of body parts), it teaches a model to read an action from the
    whole body, not the arms alone (a squat holding a kettlebell, where the training data's people held a
    barbell). Both windows ``(M, T, V, C)`` / ``(M, T, V)`` have the same frames. None when either body lacks the
    joints or the torso needed: nothing is swapped, and the label should not move."""
    own, donor = _torso_length(keypoints[0], scores[0], layout), _torso_length(donor_keypoints[0], donor_scores[0],
                                                                                 layout)
    sides = arm_joints(layout)
    if own is None or donor is None or not sides:
        return None
    keypoints, scores = keypoints.copy(), scores.copy()
    for shoulder, arm in sides:
        offset = donor_keypoints[0][:, arm] - donor_keypoints[0][:, shoulder : shoulder + 1]
        keypoints[0][:, arm] = keypoints[0][:, shoulder : shoulder + 1] + offset * (own / donor)
        seen = (scores[0][:, shoulder] > 0)[:, None] & (donor_scores[0][:, shoulder] > 0)[:, None]
        scores[0][:, arm] = np.where(seen, donor_scores[0][:, arm], 0.0)
    return keypoints, scores


def cut_by_frame(keypoints: np.ndarray, scores: np.ndarray, cfg: AugmentConfig,
                 rng: np.random.Generator) -> np.ndarray:
    """Scores ``(M, T, V)`` with the joints beyond a random picture border unseen, frame by frame.

    The border crosses the body's box (over the whole clip) between half-way and near its edge; the bottom
    border is the likeliest, as a camera most often misses the legs.
    """
    if cfg.out_of_frame <= 0 or rng.random() >= cfg.out_of_frame:
        return scores
    seen = scores > 0
    if not seen.any():
        return scores
    side = rng.choice(4, p=[0.55, 0.15, 0.15, 0.15])  # bottom, top, left, right (image y points down)
    axis = 1 if side < 2 else 0
    values = keypoints[..., axis][seen]
    low, high = float(values.min()), float(values.max())
    depth = rng.uniform(0.05, 0.5) * (high - low)  # how much of the body is beyond the border
    coordinate = keypoints[..., axis]
    beyond = coordinate > high - depth if side in (0, 3) else coordinate < low + depth
    return np.where(beyond, 0.0, scores).astype(np.float32)


# --- coordinates, after normalisation ------------------------------------------------------------------------------

def mirror(x: np.ndarray, layout: Layout) -> np.ndarray:
    """Input ``(C, T, V, M)`` as in a mirror: x negated, each left joint swapped with its right one."""
    out = x[:, :, mirror_permutation(layout)].copy()
    out[0] = -out[0]
    return out


def augment_coords(x: np.ndarray, layout: Layout, coords: int, cfg: AugmentConfig,
                   rng: np.random.Generator) -> np.ndarray:
    """Random rotation, scale, squash, shift, jitter and mirror of normalised input ``(C, T, V, M)``.

    Unseen joints (all coordinates exactly zero) stay at zero; a score channel is left alone.
    """
    x = x.copy()
    xyz = x[:coords]  # a view
    seen = np.abs(xyz).sum(axis=0, keepdims=True) > 0  # (1, T, V, M)
    stretch = 1 + rng.uniform(-cfg.scale, cfg.scale, coords)
    if coords == 2 and cfg.squash > 0:
        stretch[0] *= 1 - rng.uniform(0, cfg.squash)
    matrix = _rotation(coords, np.deg2rad(cfg.rotate), rng, cfg.vertical) * stretch
    xyz[:] = np.einsum("ij,jtvm->itvm", matrix, xyz)
    xyz += rng.uniform(-cfg.shift, cfg.shift, (coords, 1, 1, 1))
    if cfg.jitter > 0:
        xyz += rng.normal(0, cfg.jitter, xyz.shape)
    if cfg.mirror > 0 and rng.random() < cfg.mirror:
        x[:] = mirror(x, layout)
        seen = seen[:, :, mirror_permutation(layout)]
    xyz *= seen
    return x.astype(np.float32)


def _rotation(coords: int, max_angle: float, rng: np.random.Generator, vertical: int = 1) -> np.ndarray:
    """A random rotation: in the plane (2D), or mostly about the ``vertical`` axis with a little tilt (3D)."""
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
    turn = np.roll(np.eye(3), vertical - 1, axis=0)  # maps y to the vertical axis (x -> y, y -> z, z -> x for z up)
    return turn @ rot_y @ rot_x @ rot_z @ turn.T
