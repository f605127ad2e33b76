"""Which attention views explain something: measured over a dataset split, stored in the checkpoint for the GUI.

A view that looks the same whatever the input explains nothing. For every candidate view, over the windows of
a split, this measures how much it varies between samples and how much it differs between classes:

- MCF maps, per res-layer (block) and grain: each joint's attention over the joints or parts;
- TDF weights, per res-layer: the per-frame weight relative to the window's mean (so a flat profile is 0);
- joint colouring: class evidence per joint (what each joint adds to the best class's logit, the paper's Fig. 6)
  or the attention each joint receives in the last MCF block.

``variation``: the mean over the view's values of their standard deviation across samples, relative to their
mean magnitude. ``distinctness``: 1 minus the mean pairwise correlation of the class-mean views (0 when every
class gets the same picture). The default of each family is the most distinct view among those that vary by at
least ``MIN_VARIATION`` (the most varying one when none does). With each view come its mean over the split (the
GUI can show a map as its difference from it) and a fixed colour range (2nd-98th percentile), so a flat map
looks flat and a strong one strong.

    views = measure_views(model, dataset)         # a dict, stored as checkpoint.extra["views"]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from stfnet.model import STFNet
from stfnet.views import relative_profile
from train.data.dataset import SkeletonDataset

MIN_VARIATION = 0.05  # a view must vary this much between samples (relative to its size) to be a default


def _score(values: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """``variation`` and ``distinctness`` of one view over samples ``(N, ...)`` with class ``labels``."""
    flat = values.reshape(len(values), -1).astype(np.float64)
    variation = float(flat.std(axis=0).mean() / (np.abs(flat).mean() + 1e-12))
    means = np.stack([flat[labels == c].mean(axis=0) for c in np.unique(labels)])
    if len(means) < 2 or np.allclose(means.std(axis=1), 0):
        return {"variation": round(variation, 5), "distinctness": 0.0}
    corr = np.corrcoef(means)
    pairs = corr[np.triu_indices(len(means), 1)]
    return {"variation": round(variation, 5), "distinctness": round(float(1 - np.nanmean(pairs)), 5)}


def _pick(scores: dict[str, dict[str, float]]) -> str:
    """The most distinct candidate among those that vary enough (else the most varying)."""
    varying = [k for k, s in scores.items() if s["variation"] >= MIN_VARIATION]
    if varying:
        return max(varying, key=lambda k: scores[k]["distinctness"])
    return max(scores, key=lambda k: scores[k]["variation"])


def _range(values: np.ndarray) -> list[float]:
    low, high = np.percentile(values, [2, 98])
    return [round(float(low), 6), round(float(high), 6)]


@torch.no_grad()
def collect(model: STFNet, dataset: SkeletonDataset, batch_size: int = 32) -> dict[str, Any]:
    """Every window's MCF maps, relative TDF profiles, joint evidence and joint attention (first person)."""
    model.eval()
    out: dict[str, list[np.ndarray]] = {}
    labels = []
    persons = dataset.norm.num_persons
    for x, y in torch.utils.data.DataLoader(dataset, batch_size=batch_size):
        logits, maps = model.forward_with_maps(x)
        rows = torch.arange(len(x)) * persons  # first person of each sample: rows are sample-major
        for layer, grains in maps.mcf.items():
            for grain, m in enumerate(grains):
                out.setdefault(f"mcf/{layer}/{grain}", []).append(m[rows].numpy())
        for layer, w in maps.tdf.items():
            out.setdefault(f"tdf/{layer}", []).append(relative_profile(w[rows].numpy()))
        evidence = model.class_evidence(maps.features, logits.argmax(dim=1)).sum(dim=1)  # (N, V)
        out.setdefault("joints/evidence", []).append(evidence.numpy())
        if maps.mcf:
            out.setdefault("joints/attention", []).append(maps.mcf[max(maps.mcf)][0][rows].mean(dim=1).numpy())
        labels.append(y.numpy())
    return {"values": {k: np.concatenate(v) for k, v in out.items()}, "labels": np.concatenate(labels)}


def measure_views(model: STFNet, dataset: SkeletonDataset) -> dict[str, Any]:
    """The views' scores, the defaults chosen from them, and each view's mean and colour range."""
    found = collect(model, dataset)
    values, labels = found["values"], found["labels"]
    scores = {key: _score(v, labels) for key, v in values.items()}
    views: dict[str, Any] = {"samples": int(len(labels)), "min_variation": MIN_VARIATION, "scores": scores,
                             "means": {k: v.mean(axis=0).round(6).tolist() for k, v in values.items()
                                       if k.startswith("mcf/")},
                             "ranges": {k: _range(v) for k, v in values.items()},
                             "difference_ranges": {k: _range(v - v.mean(axis=0)) for k, v in values.items()
                                                   if k.startswith("mcf/")}}
    families = {family: {k: s for k, s in scores.items() if k.startswith(family + "/")}
                for family in ("mcf", "tdf", "joints")}
    for family, candidates in families.items():
        if candidates:
            best = _pick(candidates)
            views[family] = {"view": best, **candidates[best]}
    return views
