"""A torch Dataset over one split of a dataset file, giving model input ``(C, T, V, M)`` and a label.

Training (``augment`` given): one random window per clip and epoch. Evaluation: every evaluation window of
every clip (``stfnet.features.clip_windows``: one for short clips and whole-sequence models, several for long
clips), in clip order; ``clip_of_item`` says which clip each item belongs to and ``clip_scores`` averages the
windows' scores into one per clip.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from stfnet.features import NormalizeConfig, clip_windows, default_scores, normalize, prepare, to_stream
from stfnet.layouts import Layout
from train.data.augment import (
    AugmentConfig,
    arm_share,
    augment_coords,
    crop_window,
    cut_by_frame,
    drop_scores,
    reshape_body,
    swap_arms,
    time_window,
)


def clip_fps(annotation: dict[str, Any], default: float | None) -> float | None:
    """A clip's frame rate: its own (clips recorded at different rates keep them), else the dataset's."""
    return float(annotation.get("fps") or default or 0) or None


def clip_arrays(annotation: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """A clip's keypoints ``(M, T, V, C)`` and scores ``(M, T, V)`` as float32 (all seen when it has none)."""
    keypoint = np.asarray(annotation["keypoint"], dtype=np.float32)
    score = annotation.get("keypoint_score")
    return keypoint, default_scores(keypoint) if score is None else np.asarray(score, np.float32)


class SkeletonDataset(Dataset):
    """Samples of one split. With ``augment``, every (epoch, index) pair draws its own random numbers from
    ``seed``, so a run is reproducible whatever the number of loader workers, and resumable mid-way.

    Labels are class indices, except when ``augment.swap_arms`` mixes two clips' labels: then every training
    item's label is a vector of ``num_classes`` probabilities (cross-entropy takes either)."""

    def __init__(self, annotations: list[dict[str, Any]], layout: Layout, normalize_cfg: NormalizeConfig,
                 stream: str, augment: AugmentConfig | None = None, seed: int = 0, fps: float | None = None,
                 num_classes: int | None = None) -> None:
        self.annotations = annotations
        self.layout = layout
        self.norm = normalize_cfg
        self.stream = stream
        self.augment = augment
        self.seed = seed
        self.fps = fps  # the dataset's frame rate, for clips that do not record their own
        self.epoch = 0
        self.num_classes = num_classes
        if augment is not None and augment.swap_arms > 0 and num_classes is None:
            raise ValueError("swapping arms mixes labels: the dataset needs num_classes")
        self.arm_share = arm_share(layout, normalize_cfg.ignore_joints)  # of a label, with swapped arms
        self.items: list[tuple[int, np.ndarray | None]] = []  # (clip, frame indices); None: drawn per epoch
        for i, ann in enumerate(annotations):
            if augment is not None:
                self.items.append((i, None))
            else:
                length = np.shape(ann["keypoint"])[1]
                self.items += [(i, idx) for idx in clip_windows(length, clip_fps(ann, fps), normalize_cfg)]
        self.clip_of_item = np.array([clip for clip, _ in self.items], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def labels(self) -> np.ndarray:
        """One label per clip."""
        return np.array([int(a["label"]) for a in self.annotations])

    def clip_scores(self, item_scores: torch.Tensor) -> torch.Tensor:
        """Per-clip scores ``(clips, classes)``: the mean over each clip's windows of ``(items, classes)``."""
        index = torch.from_numpy(self.clip_of_item)
        total = torch.zeros(len(self.annotations), item_scores.shape[1], dtype=item_scores.dtype)
        total.index_add_(0, index, item_scores)
        return total / torch.bincount(index, minlength=len(self.annotations)).clamp(min=1)[:, None]

    def _training_window(self, ann: dict[str, Any], length: int, rng: np.random.Generator) -> np.ndarray:
        """Frame indices of a random training window of a clip of ``length`` frames."""
        fps = clip_fps(ann, self.fps)
        if self.norm.window_seconds is not None and fps:
            return time_window(length, self.norm.window_seconds * fps, self.norm.num_frames, self.augment, rng)
        return crop_window(length, self.norm.num_frames, self.augment.crop, rng)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int | torch.Tensor]:
        clip, indices = self.items[index]
        ann = self.annotations[clip]
        keypoint, score = clip_arrays(ann)
        if self.augment is None:  # evaluation: exactly what explain and other callers of prepare() see
            x = prepare(keypoint, score, self.layout, self.norm, self.stream, indices)
            return torch.from_numpy(x), int(ann["label"])
        cfg = self.augment
        rng = np.random.default_rng((self.seed, self.epoch, clip))
        idx = self._training_window(ann, keypoint.shape[1], rng)
        kp, scores = keypoint[:, idx], score[:, idx]
        label: int | torch.Tensor = int(ann["label"])
        if cfg.swap_arms > 0:
            target = torch.zeros(self.num_classes)
            target[label] = 1.0
            if rng.random() < cfg.swap_arms:
                donor = self.annotations[int(rng.integers(len(self.annotations)))]
                donor_kp, donor_score = clip_arrays(donor)
                donor_idx = self._training_window(donor, donor_kp.shape[1], rng)
                swapped = swap_arms(kp, scores, donor_kp[:, donor_idx], donor_score[:, donor_idx], self.layout)
                if swapped is not None:
                    kp, scores = swapped
                    target *= 1 - self.arm_share
                    target[int(donor["label"])] += self.arm_share
            label = target
        kp = reshape_body(kp, self.layout, cfg, rng)
        scores = cut_by_frame(kp, drop_scores(scores, self.layout, cfg, rng), cfg, rng)
        x = normalize(kp, scores, self.layout, self.norm)
        x = augment_coords(x, self.layout, self.norm.coords, cfg, rng)
        x = to_stream(x, self.layout, self.stream, self.norm.coords)
        return torch.from_numpy(x), label
