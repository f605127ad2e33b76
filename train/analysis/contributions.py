"""How much each focus module changes the features of a trained model, for `main.py explain --split`.

The attention maps show *where* MCF and TDF look; these three figures say *how much* they act, per res-layer:

- graph mask: ``||Ga - G|| / ||G||``, the learned change to the skeleton graph (the mask starts equal to ``G``, so
  a fresh mask scores 0; it depends on the weights only);
- MCF: ``||MCF(x) - x|| / ||x||``, the size of MCF's residual branch against its input (0 for a fresh MCF, whose
  output BN starts at zero), per person, averaged over the split;
- TDF: the spread of the temporal weights over time, ``std_t(w) / mean_t(w)`` per channel, averaged over channels
  and the split. A weight constant in time only rescales a channel, which the next BN absorbs; what TDF
  discriminates over time is this spread.

And how much the trained model relies on each module: its top-1 accuracy with one module knocked out at test
time (``knocked_out``): the graph mask reset to its initial ``G``, MCF's residual branch removed (MCF becomes the
identity it starts as) or TDF's weights flattened to their mean over time (a per-channel scale only).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from matplotlib.figure import Figure
from torch import Tensor, nn

from stfnet.checkpoint import load_checkpoint
from stfnet.model import STFNet
from train.analysis.explain_figures import contributions_figure
from train.analysis.per_class import variant_name
from train.data.dataset import SkeletonDataset
from train.evaluate import split_dataset
from train.loop import predict, topk_accuracy


def _relative_norm(change: Tensor, reference: Tensor) -> Tensor:
    """Per row of dim 0: ||change|| / ||reference||."""
    return change.flatten(1).norm(dim=1) / reference.flatten(1).norm(dim=1).clamp_min(1e-12)


def mask_change(model: STFNet) -> dict[int, float]:
    """Res-layer -> ||Ga - G|| / ||G|| of its SCN (layers with a graph mask only)."""
    return {layer: float((block.scn.mask.detach() - block.scn.graph).norm() / block.scn.graph.norm())
            for layer, block in enumerate(model.blocks) if layer >= 1 and block.scn.mask is not None}


@contextmanager
def measured(model: STFNet) -> Iterator[dict[str, dict[int, float]]]:
    """Forward passes of ``model`` within the block add to the figures of the module docstring; the dict it gives
    is filled on leaving the block."""
    mcf: dict[int, list[Tensor]] = {}
    tdf: dict[int, list[Tensor]] = {}

    def on_mcf(layer: int):
        def hook(_module, inputs, output):
            mcf.setdefault(layer, []).append(_relative_norm(output[0] - inputs[0], inputs[0]))  # (N*M,)
        return hook

    def on_tdf(layer: int):
        def hook(_module, _inputs, output):
            weights = output[1]  # (N*M, C, T)
            tdf.setdefault(layer, []).append((weights.std(dim=-1) / weights.mean(dim=-1)).mean(dim=1))  # (N*M,)
        return hook

    handles = []
    for layer, block in enumerate(model.blocks):
        if block.mcf is not None:
            handles.append(block.mcf.register_forward_hook(on_mcf(layer)))
        if block.tdf is not None:
            handles.append(block.tdf.register_forward_hook(on_tdf(layer)))
    found: dict[str, dict[int, float]] = {}
    try:
        yield found
    finally:
        for handle in handles:
            handle.remove()
    found["mask_change"] = mask_change(model)
    for name, values in (("mcf_branch", mcf), ("tdf_spread", tdf)):
        found[name] = {layer: float(torch.cat(v).mean()) for layer, v in values.items()}


@torch.no_grad()
def module_contributions(model: STFNet, batches: Iterable[Tensor]) -> dict[str, dict[int, float]]:
    """The figures of the module docstring for ``model``, in eval mode, over ``batches`` of ``(N, C, T, V, M)``."""
    model.eval()
    with measured(model) as found:
        for x in batches:
            model(x)
    return found


KNOCKOUTS = ("mask", "mcf", "tdf")


def _blocks_with(model: STFNet, module: str) -> list[nn.Module]:
    return [b for b in model.blocks if getattr(b.scn if module == "mask" else b, module) is not None]


@contextmanager
def knocked_out(model: STFNet, module: str) -> Iterator[None]:
    """Within the block, every ``module`` of ``model`` (one of KNOCKOUTS) does without what it learned."""
    blocks = _blocks_with(model, module)
    if module == "mask":
        learned = [b.scn.mask.detach().clone() for b in blocks]
        with torch.no_grad():
            for b in blocks:
                b.scn.mask.copy_(b.scn.graph)  # the mask's initial value
        try:
            yield
        finally:
            with torch.no_grad():
                for b, mask in zip(blocks, learned, strict=True):
                    b.scn.mask.copy_(mask)
        return
    if module == "mcf":
        def hook(_module, inputs, output):
            return inputs[0], output[1]  # the input unchanged, the maps as computed
    else:
        def hook(_module, inputs, output):
            flat = output[1].mean(dim=-1, keepdim=True)  # (N*M, C, 1)
            return inputs[0] * flat.unsqueeze(-1), output[1]
    handles = [getattr(b, module).register_forward_hook(hook) for b in blocks]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def knockout_accuracy(model: STFNet, dataset: SkeletonDataset, scores: Tensor, labels: Tensor) -> dict[str, float]:
    """Top-1 of the whole model ("none", from its ``scores`` for the ``labels`` of ``dataset``) and with each
    module it has knocked out in turn."""
    device = torch.device("cpu")
    result = {"none": topk_accuracy(scores, labels, 1)}
    for module in KNOCKOUTS:
        if _blocks_with(model, module):
            with knocked_out(model, module):
                result[module] = topk_accuracy(predict(model, dataset, device)[0], labels, 1)
    return result


def split_contributions(checkpoint: str | Path, data_path: str | Path, split: str,
                        batch_size: int = 32) -> tuple[dict[str, Any], Figure]:
    """The figures over one dataset split, with what they were measured on, and their plot."""
    ckpt = load_checkpoint(checkpoint)
    dataset = split_dataset(ckpt, data_path, split)
    model = ckpt.build_model("cpu", mirror_average=False, arms_free=False)
    with measured(model) as found:  # one pass gives the figures and the whole model's scores
        scores, labels = predict(model, dataset, torch.device("cpu"), batch_size)
    top1 = knockout_accuracy(model, dataset, scores, labels)
    title = f"{variant_name(ckpt.model_config)} ({checkpoint}) on {split}, {len(dataset)} samples"
    summary = {"checkpoint": str(checkpoint), "data": str(data_path), "split": split, "samples": len(dataset),
               **{name: {str(k): round(v, 5) for k, v in values.items()} for name, values in found.items()},
               "top1_knocked_out": {k: round(v, 5) for k, v in top1.items()}}
    return summary, contributions_figure(found, title)


def contributions_table(summary: dict[str, Any]) -> str:
    """The figures as a small text table, one row per res-layer."""
    names = ("mask_change", "mcf_branch", "tdf_spread")
    layers = sorted({int(k) for name in names for k in summary[name]})
    rows = ["layer  mask change  MCF branch  TDF spread"]
    for layer in layers:
        cells = [summary[name].get(str(layer)) for name in names]
        rows.append(f"{layer:>5}" + "".join(f"{'-' if c is None else f'{c:.3f}':>12}" for c in cells))
    top1 = summary["top1_knocked_out"]
    rows.append(f"top-1 {100 * top1['none']:.1f} %; with " + ", ".join(
        f"{'the graph mask' if k == 'mask' else k.upper()} knocked out {100 * v:.1f} %"
        for k, v in top1.items() if k != "none"))
    return "\n".join(rows)
