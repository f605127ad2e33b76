"""Warnings a user can act on, from a run's history and its validation predictions.

    warnings = diagnose(history, val_predicted, classes)   # [{"kind": ..., "message": ...}, ...]

- underfitting: the training accuracy late in the run is far below 100 %;
- overfitting: the training accuracy is far above the validation accuracy;
- loss_spike: the training loss of an evaluation period jumped well above the one before it, after warm-up;
- unpredicted_classes: classes the model never predicts on the validation split.

The training accuracy is measured on augmented samples as they are trained on, so the bars leave room for that.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

UNDERFIT_TRAIN_TOP1 = 0.8  # training accuracy at the end below this: the model does not fit its data
OVERFIT_GAP = 0.2  # training minus validation accuracy above this: it fits the training data, not the task
SPIKE_FACTOR = 2.0  # a period's mean loss this many times the previous one's (after warm-up) is a spike,
SPIKE_RISE = 0.25  # when it also rose by this share of the first period's loss (not noise near zero)


def diagnose(history: Sequence[dict[str, Any]], val_predicted: Sequence[int] | None,
             classes: Sequence[str], warmup_fraction: float = 0.1) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []
    if not history:
        return found
    last = history[-1]
    train_top1 = last.get("train_top1")
    if train_top1 is not None and train_top1 < UNDERFIT_TRAIN_TOP1:
        found.append({"kind": "underfitting", "message": (
            f"the training accuracy ends at {train_top1:.1%}: the model does not fit its own training data; try a "
            "higher --lr or more --steps, weaker augmentation, or check that --layout and the normalisation "
            "(--center, --scale) suit the data")})
    val_top1 = last.get("val_top1")
    if train_top1 is not None and val_top1 is not None and train_top1 - val_top1 > OVERFIT_GAP:
        found.append({"kind": "overfitting", "message": (
            f"the training accuracy ({train_top1:.1%}) is far above the validation accuracy ({val_top1:.1%}): the "
            "model learns its training samples rather than the actions; more data or augmentation, a smaller "
            "model (--base-channels) or fewer --steps may help")})
    total = max(h.get("step", 0) for h in history) or 1
    for before, after in zip(history, history[1:], strict=False):
        if after.get("step", 0) < warmup_fraction * total:
            continue
        rise = after["train_loss"] - before["train_loss"]
        if after["train_loss"] > SPIKE_FACTOR * before["train_loss"] and rise > SPIKE_RISE * history[0]["train_loss"]:
            found.append({"kind": "loss_spike", "message": (
                f"the training loss jumped from {before['train_loss']:.3f} to {after['train_loss']:.3f} around step "
                f"{after.get('step')}: a lower --lr may train more steadily")})
            break
    if val_predicted is not None and len(val_predicted):
        missing = sorted(set(range(len(classes))) - {int(p) for p in val_predicted})
        if missing:
            names = ", ".join(classes[i] for i in missing[:5]) + (", ..." if len(missing) > 5 else "")
            found.append({"kind": "unpredicted_classes", "message": (
                f"{len(missing)} of {len(classes)} classes are never predicted on the validation split ({names}): "
                "they may have too few samples, or look alike to the model")})
    return found
