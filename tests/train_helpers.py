"""Small synthetic inputs shared by the training-pipeline tests (tests/test_train_*.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from stfnet.features import NormalizeConfig
from stfnet.layouts import get_layout
from stfnet.model import STFNetConfig
from train.data.augment import AugmentConfig
from train.data.format import make_annotation, save_dataset
from train.loop import TrainConfig

CLASSES = ["wave", "clap", "kick"]


def tiny_dataset(path: Path, per_class_train: int = 4, per_class_val: int = 2, frames: int = 12,
                 seed: int = 0) -> dict:
    """A 2D openpose18 dataset of three classes that differ in which limb moves; splits ``train`` and ``val``."""
    rng = np.random.default_rng(seed)
    base = np.zeros((18, 2), np.float32)
    layout = get_layout("openpose18")
    for child, parent in layout.edges:  # place each joint near its parent, drawn in edge order from the center
        base[child] = base[parent] + rng.normal(0, 1, 2)
    limbs = [[3, 4], [6, 7], [9, 10]]  # right arm, left arm, right leg
    annotations, split = [], {"train": [], "val": []}
    for label, joints in enumerate(limbs):
        for i in range(per_class_train + per_class_val):
            t = np.arange(frames)[:, None, None]
            kp = np.repeat(base[None], frames, axis=0) + rng.normal(0, 0.05, (frames, 18, 2))  # (T, V, 2)
            kp[:, joints] += 1.5 * np.sin(t * 0.8 + i)
            kp = (kp * 20 + 100).astype(np.float32)[None]  # (1, T, V, 2) in "pixels"
            name = f"{CLASSES[label]}_{i}"
            annotations.append(make_annotation(name, label, kp, np.ones(kp.shape[:3], np.float32)))
            split["train" if i < per_class_train else "val"].append(name)
    data = {"split": split, "annotations": annotations, "classes": list(CLASSES), "layout": "openpose18"}
    save_dataset(data, path)
    return data


def tiny_train_config(data: Path, out: Path, **overrides: object) -> TrainConfig:
    """A run that takes a second or two on a CPU."""
    norm = NormalizeConfig(coords=2, use_score=True)
    fields = dict(data=str(data), out=str(out), train_split="train", val_split="val",
                  model=STFNetConfig(base_channels=4), normalize=norm, frames=8,
                  augment=AugmentConfig(rotate=10.0, jitter=0.01, mirror=0.5), epochs=3, batch_size=4, lr=0.05,
                  warmup=0.3, decay_at=(0.6,), seed=0, device="cpu", test_split=None)
    fields.update(overrides)
    return TrainConfig(**fields)
