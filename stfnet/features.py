"""From keypoints to model input: the one normalize(), the four streams, temporal resampling, score fusion.

Evaluation goes through ``prepare()``; training inserts augmentation between ``normalize()`` and ``to_stream()``;
live recognition resamples its window by timestamps, then calls ``normalize()`` and ``to_stream()`` too. So a
checkpoint sees the same kind of input everywhere.

Windows. With ``window_seconds`` set (every model trained on data with a frame rate), a model window covers that
many seconds of motion, cut from a clip the way the app cuts it from a camera: ``num_frames`` samples spread over
the window, the last one at its end, and times before the clip's first frame repeat that frame (as the live
window repeats its oldest frame while it fills). A clip longer than the window is evaluated as several windows
whose scores are averaged. Without it (older checkpoints, data without a frame rate) the whole sequence is
resampled to ``num_frames``.

Shapes: keypoints ``(M, T, V, C)`` and scores ``(M, T, V)`` as on disk; model input ``(C', T, V, M')``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from stfnet.layouts import Layout

STREAMS = ("joint", "bone", "joint_motion", "bone_motion")
CENTER_MODES = ("first_frame", "frame", "none")
SCALE_MODES = ("bones", "none")


@dataclass(frozen=True)
class NormalizeConfig:
    num_frames: int = 64  # frames in one model window (sequences are resampled uniformly to this length)
    num_persons: int = 1  # persons fed to the model: the highest-scoring ones, zero-padded
    coords: int = 3  # coordinate channels kept: 2 (x, y) or 3 (x, y, z)
    use_score: bool = False  # append each joint's score as a channel (x, y, score for 2D pose estimates)
    center: str = "first_frame"  # subtract the center joint: of the first frame it is seen in, per frame, or not
    scale: str = "bones"  # divide by the main person's mean bone length, or not
    ignore_joints: tuple[int, ...] = ()  # joints always treated as unseen (ones the training data never had)
    window_seconds: float | None = None  # seconds of motion one window covers; None: the whole sequence

    def __post_init__(self) -> None:
        object.__setattr__(self, "ignore_joints", tuple(int(j) for j in self.ignore_joints))
        if self.center not in CENTER_MODES:
            raise ValueError(f"center must be one of {CENTER_MODES}, got '{self.center}'")
        if self.scale not in SCALE_MODES:
            raise ValueError(f"scale must be one of {SCALE_MODES}, got '{self.scale}'")
        if self.coords not in (2, 3):
            raise ValueError(f"coords must be 2 or 3, got {self.coords}")
        if self.num_frames < 1 or self.num_persons < 1:
            raise ValueError("num_frames and num_persons must be at least 1")
        if self.window_seconds is not None and not self.window_seconds > 0:
            raise ValueError(f"window_seconds must be positive, got {self.window_seconds}")

    @property
    def in_channels(self) -> int:
        return self.coords + int(self.use_score)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_scores(keypoints: np.ndarray) -> np.ndarray:
    """Scores for keypoints that come without them (3D skeletons): 1 where a joint is not all zeros."""
    return (np.abs(keypoints).sum(axis=-1) > 0).astype(np.float32)


def select_persons(keypoints: np.ndarray, scores: np.ndarray, num_persons: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep the ``num_persons`` persons with the highest summed score, zero-padding when there are fewer."""
    order = np.argsort(-scores.reshape(scores.shape[0], -1).sum(axis=1), kind="stable")[:num_persons]
    kp, sc = keypoints[order], scores[order]
    missing = num_persons - kp.shape[0]
    if missing > 0:
        kp = np.concatenate([kp, np.zeros((missing,) + kp.shape[1:], kp.dtype)])
        sc = np.concatenate([sc, np.zeros((missing,) + sc.shape[1:], sc.dtype)])
    return kp, sc


def resample_indices(length: int, num_frames: int, start: float = 0.0, span: float | None = None) -> np.ndarray:
    """Indices of ``num_frames`` frames spread uniformly over ``[start, start + span)`` of ``length`` frames."""
    span = length - start if span is None else span
    positions = start + (np.arange(num_frames) + 0.5) * span / num_frames
    return np.clip(np.floor(positions).astype(int), 0, max(length - 1, 0))


def window_indices(length: int, span: float, num_frames: int, start: float) -> np.ndarray:
    """Frame indices of a window of ``span`` frames starting at frame ``start`` (may lie before the clip),
    ``num_frames`` samples with the last at the window's end, each the nearest frame, clamped to the clip: the
    frame sampling of the live window (``realtime.window``) in frame units."""
    positions = start + (np.arange(num_frames) + 1) * span / num_frames
    return np.clip(np.rint(positions).astype(int), 0, max(length - 1, 0))


def window_starts(length: int, span: float, max_windows: int = 4) -> np.ndarray:
    """Start frames of the evaluation windows of a clip: one ending at its last frame when the clip is no longer
    than the window (as the app sees a short clip when it ends), else up to ``max_windows`` evenly spread
    windows from its start to its end."""
    last_start = (length - 1) - span
    if last_start <= 0:
        return np.array([last_start])
    count = min(max_windows, int(np.ceil(length / span)))
    return np.linspace(0.0, last_start, count)


def clip_windows(length: int, fps: float | None, cfg: NormalizeConfig) -> list[np.ndarray]:
    """Frame indices of each evaluation window of a clip of ``length`` frames (one for whole-sequence models)."""
    if cfg.window_seconds is None or not fps:
        return [resample_indices(length, cfg.num_frames)]
    span = cfg.window_seconds * fps
    return [window_indices(length, span, cfg.num_frames, s) for s in window_starts(length, span)]


def normalize(keypoints: np.ndarray, scores: np.ndarray | None, layout: Layout, cfg: NormalizeConfig) -> np.ndarray:
    """Person selection, centring, scaling and channel layout: ``(M, T, V, C)`` -> ``(C', T, V, M')``.

    Frames are not resampled here: the caller picks the window (training crops, live buffers).
    Joints with score 0 are treated as missing: they do not count toward centring and scaling, and their
    coordinates are zeroed after centring so that they sit on the center rather than somewhere arbitrary.
    """
    if keypoints.ndim != 4:
        raise ValueError(f"keypoints must have shape (M, T, V, C), got shape {keypoints.shape}")
    if keypoints.shape[2] != layout.num_joints:
        raise ValueError(f"keypoints have {keypoints.shape[2]} joints, layout '{layout.name}' has "
                         f"{layout.num_joints}")
    if keypoints.shape[3] < cfg.coords:
        raise ValueError(f"keypoints have {keypoints.shape[3]} coordinates, the model needs {cfg.coords}")
    scores = default_scores(keypoints) if scores is None else scores
    if cfg.ignore_joints:
        scores = scores.copy()
        scores[..., list(cfg.ignore_joints)] = 0
    kp, sc = select_persons(keypoints[..., : cfg.coords].astype(np.float32), scores.astype(np.float32),
                            cfg.num_persons)
    valid = sc > 0  # (M, T, V)
    if cfg.center == "first_frame":
        seen = np.flatnonzero(valid[0, :, layout.center])
        origin = kp[0, seen[0], layout.center] if seen.size else np.zeros(cfg.coords, np.float32)
        kp = kp - origin
    elif cfg.center == "frame":
        kp = kp - kp[:, :, layout.center : layout.center + 1]
    if cfg.scale == "bones":
        kp = kp / _mean_bone_length(kp[0], valid[0], layout)
    kp = np.where(valid[..., None], kp, 0.0)
    channels = [kp, sc[..., None]] if cfg.use_score else [kp]
    return np.ascontiguousarray(np.concatenate(channels, axis=-1).transpose(3, 1, 2, 0), dtype=np.float32)


def _mean_bone_length(kp: np.ndarray, valid: np.ndarray, layout: Layout) -> float:
    """Mean length of the bones whose two joints are both seen, over all frames; 1 when there are none."""
    child = np.array([c for c, _ in layout.edges])
    parent = np.array([p for _, p in layout.edges])
    lengths = np.linalg.norm(kp[:, child] - kp[:, parent], axis=-1)  # (T, E)
    seen = valid[:, child] & valid[:, parent]
    return float(lengths[seen].mean()) if seen.any() and lengths[seen].mean() > 1e-6 else 1.0


def to_stream(x: np.ndarray, layout: Layout, stream: str, coords: int) -> np.ndarray:
    """One of the four input streams from normalised joints ``(C, T, V, M)``.

    Bones point from each joint's parent to the joint (the center's bone is zero); motion is the difference to
    the next frame (zero for the last). Only the first ``coords`` channels are transformed: a score channel
    is kept as it is.
    """
    if stream not in STREAMS:
        raise ValueError(f"unknown stream '{stream}': use one of {', '.join(STREAMS)}")
    out = x.copy()
    xyz = out[:coords]  # a view: edits below change ``out``
    if stream in ("bone", "bone_motion"):
        xyz -= x[:coords][:, :, list(layout.parents)]
    if stream in ("joint_motion", "bone_motion"):
        xyz[:, :-1] = xyz[:, 1:] - xyz[:, :-1]
        xyz[:, -1] = 0
    return out


def prepare(keypoints: np.ndarray, scores: np.ndarray | None, layout: Layout, cfg: NormalizeConfig,
            stream: str, indices: np.ndarray | None = None) -> np.ndarray:
    """Model input ``(C, T, V, M)`` from the frames ``indices`` of a sequence (default: the whole sequence
    resampled to ``cfg.num_frames``), normalised, as the stream."""
    idx = resample_indices(keypoints.shape[1], cfg.num_frames) if indices is None else indices
    sampled_scores = None if scores is None else scores[:, idx]
    return to_stream(normalize(keypoints[:, idx], sampled_scores, layout, cfg), layout, stream, cfg.coords)


def fuse_scores(scores: dict[str, np.ndarray], weights: dict[str, float] | None = None) -> np.ndarray:
    """Weighted sum of per-stream class scores ``(N, classes)``; equal weights when none are given."""
    if not scores:
        raise ValueError("no stream scores to fuse")
    weights = weights or {name: 1.0 for name in scores}
    unknown = set(weights) - set(scores)
    if unknown:
        raise ValueError(f"weights given for streams without scores: {', '.join(sorted(unknown))}")
    return sum(weights.get(name, 0.0) * np.asarray(s, dtype=np.float64) for name, s in scores.items())
