"""Calibrated probabilities: temperature scaling fitted on a validation split, and what the threshold does.

    temperature = fit_temperature(val_logits, val_labels)      # softmax(logits / T) is then calibrated
    default_min_confidence(num_classes)                        # the "uncertain" threshold a model records
    threshold_effect(test_logits, test_labels, temperature, min_confidence)
        # {"kept_right": share of right answers still given, "rejected_wrong": share of wrong ones turned
        #  "uncertain", "uncertain": share of all answers that are "uncertain", ...}

The temperature minimises the negative log-likelihood on held-out samples (Guo et al. 2017, "On calibration of
modern neural networks"): one number, so the ranking of classes, and the accuracy, do not change.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def default_min_confidence(num_classes: int) -> float:
    """The threshold a calibrated model records: halfway between chance (1 / classes) and certainty, so a
    two-class model needs 0.75, a 15-class one 0.53."""
    return round((1 + 1 / num_classes) / 2, 4)


TEMPERATURES = torch.logspace(math.log10(0.05), math.log10(20.0), 400)  # searched, then refined


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The temperature with the lowest negative log-likelihood of ``labels`` (a grid search, then a finer one);
    1 when every sample is classified right, where the likelihood only grows as the temperature falls to 0 and
    says nothing about how sure the model should be on a sample it gets wrong."""
    logits, labels = logits.double(), labels.long()
    if bool((logits.argmax(dim=1) == labels).all()):
        return 1.0

    def nll(t: float) -> float:
        return F.cross_entropy(logits / t, labels).item()

    best = min(TEMPERATURES.tolist(), key=nll)
    fine = torch.linspace(best * 0.97, best * 1.03, 61).tolist()
    return round(min(fine, key=nll), 4)


def threshold_effect(logits: torch.Tensor, labels: torch.Tensor, temperature: float,
                     min_confidence: float) -> dict[str, float]:
    """How a confidence threshold sorts answers: right ones kept, wrong ones turned "uncertain"."""
    probabilities = (logits.double() / temperature).softmax(dim=1)
    confidence, predicted = probabilities.max(dim=1)
    right = predicted == labels
    kept = confidence >= min_confidence
    wrong = ~right
    return {
        "min_confidence": min_confidence,
        "kept_right": (right & kept).sum().item() / max(1, right.sum().item()),
        "rejected_wrong": (wrong & ~kept).sum().item() / max(1, wrong.sum().item()),
        "uncertain": (~kept).float().mean().item(),
        "accuracy_of_kept": (right & kept).sum().item() / max(1, kept.sum().item()),
    }


def expected_calibration_error(logits: torch.Tensor, labels: torch.Tensor, temperature: float,
                               bins: int = 10) -> float:
    """Mean gap between confidence and accuracy over equal-width confidence bins, weighted by their size."""
    confidence, predicted = (logits.double() / temperature).softmax(dim=1).max(dim=1)
    right = (predicted == labels).double()
    error = 0.0
    edges = torch.linspace(0, 1, bins + 1, dtype=torch.float64)
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            error += inside.double().mean().item() * abs(confidence[inside].mean().item() - right[inside].mean().item())
    return error
