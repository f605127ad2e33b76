"""A second reading of every window with the arms hidden, taken when it is clearly more confident.

A model trained on Penn Action reads a squat partly by its barbell hold: a goblet squat (hands together at the chest)
comes out as a push-up or jump rope, while the same windows with the elbows and wrists unseen read squat at 0.9-1.0.
Asking the model about both and taking the arms-free answer only when its top probability beats the plain one's by
``margin`` lets the legs decide where the arms are unusual, and leaves the actions the arms define (the arms-free
reading of a golf swing or a pull-up is unsure, so the plain one wins). On Penn Action's validation split a margin
of 0.2 or more changes no answer.

Only the joint stream is supported: its input holds the joints themselves, so hiding the arms is zeroing them (and
their scores) and re-scaling the rest as ``normalize`` would have without the arm bones.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor, nn

from stfnet.layouts import Layout
from stfnet.model import FocusMaps

ARM_JOINTS = ("elbow", "wrist", "hand", "hand_tip", "thumb")  # below the shoulder, each l_... and r_...


def arm_joints(layout: Layout) -> list[int]:
    """The joints of both arms below the shoulders (``l_elbow``, ``r_wrist``, ...)."""
    return [j for j, name in enumerate(layout.joints) if name[:2] in ("l_", "r_") and name[2:] in ARM_JOINTS]


class ArmsFreeSecondReading(nn.Module):
    """``model`` asked about input ``(N, C, T, V, M)`` and the same input with the arms hidden, in one batch.

    ``coords`` channels are coordinates and, when ``has_score``, the next one is each joint's score (0: unseen).
    ``rescale``: the input was scaled by the mean bone length (``normalize``'s ``scale="bones"``), so the arms-free
    copy is scaled by the mean length of the other bones instead. ``forward_with_maps`` returns the maps of the batch
    of ``2N`` whose first ``N`` rows are the input's own (but see there for the features)."""

    def __init__(self, model: nn.Module, layout: Layout, coords: int, has_score: bool, rescale: bool,
                 temperature: float, margin: float, device: str | torch.device = "cpu") -> None:
        super().__init__()
        self.model = model
        arms = arm_joints(layout)
        if not arms:
            raise ValueError(f"layout '{layout.name}' names no elbows or wrists to hide")
        keep = torch.ones(layout.num_joints, device=device)
        keep[arms] = 0
        self.register_buffer("keep", keep, persistent=False)
        kept_bones = [(c, p) for c, p in layout.edges if c not in arms and p not in arms]
        self.register_buffer("bones", torch.tensor(layout.edges, dtype=torch.long, device=device).reshape(-1, 2),
                             persistent=False)
        self.register_buffer("kept_bones", torch.tensor(kept_bones, dtype=torch.long, device=device).reshape(-1, 2),
                             persistent=False)
        self.coords, self.has_score, self.rescale = coords, has_score, rescale
        self.temperature, self.margin = temperature, margin
        self.train(model.training)

    def arms_hidden(self, x: Tensor) -> Tensor:
        hidden = x * self.keep.view(1, 1, 1, -1, 1)
        if self.rescale:
            factor = self._mean_bone(x, self.bones) / self._mean_bone(x, self.kept_bones)
            hidden = torch.cat([hidden[:, : self.coords] * factor.view(-1, 1, 1, 1, 1), hidden[:, self.coords:]], 1)
        return hidden

    def _mean_bone(self, x: Tensor, bones: Tensor) -> Tensor:
        """Mean length of the first person's seen bones, per sample ``(N,)`` (1 when none is seen)."""
        xy = x[:, : self.coords, :, :, 0]  # (N, C, T, V)
        seen = x[:, self.coords, :, :, 0] > 0 if self.has_score else xy.abs().sum(1) > 0  # (N, T, V)
        child, parent = bones[:, 0], bones[:, 1]
        lengths = (xy[:, :, :, child] - xy[:, :, :, parent]).norm(dim=1)  # (N, T, B)
        both = (seen[:, :, child] & seen[:, :, parent]).to(x.dtype)
        count = both.sum(dim=(1, 2))
        mean = (lengths * both).sum(dim=(1, 2)) / count.clamp(min=1)
        return torch.where((count > 0) & (mean > 1e-6), mean, torch.ones_like(mean))

    def answer(self, logits: Tensor) -> tuple[Tensor, Tensor]:
        """``(2N, K)`` logits of both readings -> the answers ``(N, K)`` and whether the arms-free reading gave each
        ``(N,)``: it does where its top probability beats the plain one's by the margin."""
        plain, free = logits.reshape(2, -1, logits.shape[-1])
        confidence = (logits / self.temperature).softmax(dim=-1).amax(dim=-1).reshape(2, -1)
        wins = confidence[1] > confidence[0] + self.margin
        return torch.where(wins[:, None], free, plain), wins

    def forward(self, x: Tensor) -> Tensor:
        return self.answer(self.model(torch.cat([x, self.arms_hidden(x)])))[0]

    def forward_with_maps(self, x: Tensor) -> tuple[Tensor, FocusMaps]:
        """The answers and the maps of the input's own reading, except the features (what class evidence is drawn
        from): for each sample, those of the reading that answered, so a squat read by the legs shows the legs."""
        n = x.shape[0]
        logits, maps = self.model.forward_with_maps(torch.cat([x, self.arms_hidden(x)]))
        answers, wins = self.answer(logits)
        if maps.features is not None:
            shape = (n,) + (1,) * (maps.features.dim() - 1)
            answered = torch.where(wins.view(shape), maps.features[n : 2 * n], maps.features[:n])
            maps = dataclasses.replace(maps, features=torch.cat([answered, maps.features[n:]]))
        return answers, maps

    def class_evidence(self, features: Tensor, classes: Tensor) -> Tensor:
        return self.model.class_evidence(features, classes)
