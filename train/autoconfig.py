"""Training defaults that fit the data: window length, schedule, augmentation; each decision written down.

A 280-sample dataset and NTU-120 should not share a 65-epoch plan, a 2D skeleton from a camera and a 3D one from
a Kinect should not share an augmentation, and whether left and right can be swapped depends on the classes.
Nothing here reads the test split: the choices come from the training split (and the validation split carved
from it, for the mirror check).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from train.data.augment import AugmentConfig
from train.data.dataset import clip_fps

PAPER_EPOCHS = 65  # the paper's schedule for NTU; a dataset big enough keeps it
MIN_STEPS = 1500  # small datasets get at least this many optimiser steps (else they underfit)
FINE_TUNE_EPOCHS = 40  # fine-tuning from a backbone: this many epochs' worth of steps,
FINE_TUNE_STEPS = (150, 600)  # kept within these bounds
# Fine-tuning: smaller batches give a few samples more steps for the same work (5-shot UTD-MHAD from the exercise
# model, one draw: batch 16 79.4 %, batch 8 77.8 % in 16 % more CPU, batch 32 74.8 %). No block stays fixed: from
# the half-width Teach backbone (`exercise-small`), 5-shot, three draws, 270 steps (30 epochs): 77.3 % with every
# block trained against 76.2 % with four fixed; 360 steps (40 epochs): 81.1 % in 50 CPU s, 400: 81.2 % in 57 s.
FINE_TUNE_BATCH = 16
FINE_TUNE_FREEZE = 0
EVALUATIONS = 40  # about this many validations and checkpoints per run, whatever its length
WINDOW_SECONDS = (0.8, 4.0)  # bounds of the automatic window length


@dataclass(frozen=True)
class Schedule:
    steps: int  # optimiser steps in all
    steps_per_epoch: int
    epochs: int
    warmup_steps: int  # linear warm-up from lr / 10
    decay_steps: tuple[int, ...]  # steps where the learning rate is divided by 10
    eval_every: int  # epochs between validations and checkpoints (and the last epoch)

    def learning_rate(self, base: float, step: float) -> float:
        if step < self.warmup_steps:
            return base * (0.1 + 0.9 * step / self.warmup_steps)
        return base * 0.1 ** sum(step >= d for d in self.decay_steps)


def make_schedule(num_samples: int, batch_size: int, steps: int | None = None, epochs: int | None = None,
                  fine_tune: bool = False, warmup: float = 0.05, decay_at: tuple[float, ...] = (0.6, 0.85)
                  ) -> tuple[Schedule, str]:
    """The schedule in optimiser steps, and a sentence saying how it was chosen."""
    per_epoch = max(1, math.ceil(num_samples / batch_size))
    if steps is not None:
        how = f"{steps} steps, as asked"
    elif epochs is not None:
        steps, how = epochs * per_epoch, f"{epochs} epochs, as asked"
    elif fine_tune:
        low, high = FINE_TUNE_STEPS
        steps = min(high, max(low, FINE_TUNE_EPOCHS * per_epoch))
        how = f"fine-tuning: {FINE_TUNE_EPOCHS} epochs of {per_epoch} steps, kept within {low}-{high} steps"
    else:
        steps = max(MIN_STEPS, PAPER_EPOCHS * per_epoch)
        how = (f"the paper's {PAPER_EPOCHS} epochs ({PAPER_EPOCHS * per_epoch} steps of {batch_size} samples)"
               + (f", raised to {MIN_STEPS} steps for a small dataset" if steps > PAPER_EPOCHS * per_epoch else ""))
    epochs_needed = math.ceil(steps / per_epoch)
    schedule = Schedule(steps=epochs_needed * per_epoch, steps_per_epoch=per_epoch, epochs=epochs_needed,
                        warmup_steps=max(1, round(warmup * steps)),
                        decay_steps=tuple(round(f * steps) for f in decay_at),
                        eval_every=max(1, math.ceil(epochs_needed / EVALUATIONS)))
    return schedule, how


def window_seconds(annotations: list[dict[str, Any]], fps: float | None) -> float | None:
    """The typical duration of a clip (the median, within ``WINDOW_SECONDS``), or None without a frame rate."""
    durations = [np.shape(a["keypoint"])[1] / f for a in annotations if (f := clip_fps(a, fps))]
    if len(durations) < len(annotations) or not durations:
        return None
    low, high = WINDOW_SECONDS
    return round(float(np.clip(np.median(durations), low, high)), 2)


def window_frames(seconds: float | None) -> int:
    """Samples per window: 16 per second of motion (enough for a 4 Hz movement), a multiple of 4 within 16-64;
    64 for whole-clip windows, whose duration varies."""
    if seconds is None:
        return 64
    return int(np.clip(4 * round(seconds * 16 / 4), 16, 64))


def vertical_axis(annotations: list[dict[str, Any]], coords: int) -> int:
    """The axis along which bodies extend most (the one pointing up), by a vote over clips."""
    votes = np.zeros(coords, int)
    for ann in annotations[:: max(1, len(annotations) // 200)]:
        keypoint = np.asarray(ann["keypoint"], np.float32)[0, :, :, :coords]  # (T, V, C) main person
        seen = np.abs(keypoint).sum(-1) > 0
        extents = [np.ptp(frame[mask], axis=0) for frame, mask in zip(keypoint, seen, strict=True) if mask.sum() > 1]
        if extents:
            votes[int(np.argmax(np.median(extents, axis=0)))] += 1
    return int(np.argmax(votes))


def default_augment(coords: int, vertical: int = 1) -> AugmentConfig:
    """What skeletons of this kind need. 2D ones come from a camera, where people turn away, tilt, leave the
    picture, and a pose estimator places joints differently from the annotator of the data (MediaPipe's hips are
    about a quarter closer together than Penn Action's annotated ones, its shoulders a tenth wider); 3D ones
    come from depth sensors in a lab."""
    if coords == 2:
        return AugmentConfig(speed=(0.8, 1.25), loop=0.5, rotate=15.0, scale=0.1, squash=0.3, shift=0.1,
                             jitter=0.02, drop_joint=0.05, out_of_frame=0.2, hip_width=(0.65, 1.1),
                             shoulder_width=(0.9, 1.25))
    return AugmentConfig(speed=(0.85, 1.2), loop=0.5, rotate=15.0, vertical=vertical, scale=0.1, shift=0.1)


def fine_tune_augment(augment: AugmentConfig) -> AugmentConfig:
    """Fine-tuning from a backbone needs less: the backbone has already learned the camera's distortions (cut-off
    limbs, lost joints, a pose estimator's hip and shoulder widths), the user's samples come from the estimator the
    app runs, and a few samples must be learned in a few hundred steps, which heavy distortions prevent (5-shot
    UTD-MHAD from the exercise model, same steps: 79.4 % with these, 76.2 % with the full set)."""
    return dataclasses.replace(augment, out_of_frame=0.0, drop_joint=0.0, squash=min(augment.squash, 0.1),
                               hip_width=(1.0, 1.0), shoulder_width=(1.0, 1.0))


def with_mirror(augment: AugmentConfig, mirror: float) -> AugmentConfig:
    return dataclasses.replace(augment, mirror=mirror)
