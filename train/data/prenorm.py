"""The 2s-AGCN pre-normalisation of 3D skeleton sequences ``(M, T, V, 3)``, as plain functions.

Steps, in the order ``pre_normalize()`` applies them (Shi et al., 2s-AGCN ``data_gen/preprocess.py``):
1. keep the most active bodies: the sum over x, y, z of the coordinate std over the frames a body is seen in;
2. fill a body's empty frames: move its seen frames to the front when it starts late, then repeat what it has
   over the empty tail (optionally up to a minimum length);
3. centre on the spine joint of the main body, taken in its first seen frame (2s-AGCN takes it per frame; we keep
   the trajectory, and ``normalize(center="frame")`` does the per-frame form at training time);
4. rotate so that the main body's hip -> spine bone in its first frame points along +z and its shoulders
   (left -> right) lie in the x-z plane pointing along +x; 2s-AGCN rotates the shoulders onto x after the spine
   onto z, which tips the spine off z again; we turn about z instead, so both hold.
Empty (all-zero) joints stay exactly zero throughout.
"""

from __future__ import annotations

import numpy as np

VERTICAL_AXES = ("z", "y")


def body_energy(body: np.ndarray) -> float:
    """Motion of one body ``(T, V, 3)``: the summed per-axis std over the frames it is seen in."""
    seen = body[np.abs(body).sum(axis=(1, 2)) > 0]  # (T', V, 3)
    return float(seen.reshape(-1, 3).std(axis=0).sum()) if len(seen) else 0.0


def select_active(bodies: np.ndarray, count: int) -> np.ndarray:
    """The ``count`` bodies with the most motion, most active first, zero-padded to ``count``."""
    order = np.argsort([-body_energy(b) for b in bodies], kind="stable")[:count]
    out = np.zeros((count,) + bodies.shape[1:], bodies.dtype)
    out[: len(order)] = bodies[order]
    return out


def fill_empty_frames(body: np.ndarray, min_frames: int = 0) -> np.ndarray:
    """One body ``(T, V, C)``: seen frames moved to the front when it starts late, then the empty tail filled
    by repeating the frames up to the last seen one; the result has ``max(T, min_frames)`` frames."""
    seen = np.abs(body).sum(axis=(1, 2)) > 0  # (T,)
    total = max(len(body), min_frames)
    if not seen.any():
        return np.zeros((total,) + body.shape[1:], body.dtype)
    if not seen[0]:
        body = np.concatenate([body[seen], np.zeros_like(body[~seen])])
        seen = np.arange(len(body)) < seen.sum()
    filled = len(body) - int(np.argmax(seen[::-1]))  # frames up to and including the last seen one
    reps = -(-total // filled)  # ceil
    return np.concatenate([body[:filled]] * reps)[:total]


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The 3x3 rotation taking direction ``a`` onto direction ``b`` (Rodrigues' formula)."""
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    axis, cos = np.cross(a, b), float(np.clip(a @ b, -1.0, 1.0))
    if np.linalg.norm(axis) < 1e-8:
        if cos > 0:
            return np.eye(3)
        # opposite directions: half a turn about any axis perpendicular to a
        helper = np.eye(3)[np.argmin(np.abs(a))]
        axis = np.cross(a, helper)
        axis /= np.linalg.norm(axis)
        return 2 * np.outer(axis, axis) - np.eye(3)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + k + k @ k / (1 + cos)


def pre_normalize(bodies: np.ndarray, num_bodies: int = 2, min_frames: int = 0, center: int = 1,
                  up: tuple[int, int] = (0, 1), across: tuple[int, int] = (4, 8), vertical: str = "y") -> np.ndarray:
    """``(B, T, V, 3)`` raw bodies -> ``(num_bodies, T', V, 3)``, most active body first.

    ``up`` is the (hip, spine) joint pair aligned with the ``vertical`` axis (``y`` as in Kinect camera space and the
    rest of this project, or ``z`` as in 2s-AGCN), ``across`` the (left, right) shoulder pair aligned
    with +x; the defaults are NTU's 0-based joints.
    """
    if vertical not in VERTICAL_AXES:
        raise ValueError(f"vertical must be one of {VERTICAL_AXES}, got '{vertical}'")
    kp = select_active(bodies.astype(np.float64), num_bodies)  # (M, T, V, 3)
    kp = np.stack([fill_empty_frames(body, min_frames) for body in kp])  # (M, T', V, 3)
    seen = np.abs(kp).sum(axis=-1, keepdims=True) > 0  # (M, T', V, 1)
    main = kp[0]
    main_frames = np.flatnonzero(seen[0, :, center, 0])
    if not main_frames.size:
        return kp.astype(np.float32)
    first = main[main_frames[0]]  # (V, 3)
    kp = (kp - first[center]) * seen
    first = kp[0, main_frames[0]]
    rot_up = rotation_between(first[up[1]] - first[up[0]], np.array([0.0, 0.0, 1.0]))
    shoulders = rot_up @ (first[across[1]] - first[across[0]])
    turn = np.eye(3)
    if np.linalg.norm(shoulders[:2]) > 1e-8:  # turn about z so the shoulders' x-y projection points along +x
        angle = -np.arctan2(shoulders[1], shoulders[0])
        c, s = np.cos(angle), np.sin(angle)
        turn = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    rotation = turn @ rot_up
    if vertical == "y":  # a quarter turn about x: +z -> +y, +x stays
        rotation = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]]) @ rotation
    kp = np.einsum("ij,mtvj->mtvi", rotation, kp) * seen
    return kp.astype(np.float32)
