"""A torch Dataset over one split of a dataset file, giving model input ``(C, T, V, M)`` and a label."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from stfnet.features import NormalizeConfig, default_scores, normalize, prepare, to_stream
from stfnet.layouts import Layout
from train.data.augment import AugmentConfig, augment_coords, crop_window, drop_scores


class SkeletonDataset(Dataset):
    """Samples of one split. With ``augment``, every (epoch, index) pair draws its own random numbers from
    ``seed``, so a run is reproducible whatever the number of loader workers, and resumable mid-way."""

    def __init__(self, annotations: list[dict[str, Any]], layout: Layout, normalize_cfg: NormalizeConfig,
                 stream: str, augment: AugmentConfig | None = None, seed: int = 0) -> None:
        self.annotations = annotations
        self.layout = layout
        self.norm = normalize_cfg
        self.stream = stream
        self.augment = augment
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.annotations)

    @property
    def labels(self) -> np.ndarray:
        return np.array([int(a["label"]) for a in self.annotations])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        ann = self.annotations[index]
        keypoint = np.asarray(ann["keypoint"], dtype=np.float32)  # (M, T, V, C)
        score = ann.get("keypoint_score")
        score = default_scores(keypoint) if score is None else np.asarray(score, np.float32)
        if self.augment is None:  # evaluation: exactly what explain and other callers of prepare() see
            x = prepare(keypoint, score, self.layout, self.norm, self.stream)
            return torch.from_numpy(x), int(ann["label"])
        rng = np.random.default_rng((self.seed, self.epoch, index))
        idx = crop_window(keypoint.shape[1], self.norm.num_frames, self.augment.crop, rng)
        scores = drop_scores(score[:, idx], self.layout, self.augment, rng)
        x = normalize(keypoint[:, idx], scores, self.layout, self.norm)
        x = augment_coords(x, self.layout, self.norm.coords, self.augment, rng)
        x = to_stream(x, self.layout, self.stream, self.norm.coords)
        return torch.from_numpy(x), int(ann["label"])
