"""Paper-style figures of what STF-Net looks at, as matplotlib Figures (Agg canvas, no pyplot global state).

Every ``*_figure`` function builds and returns a Figure without saving it, so that tests can read the plotted
arrays and tick labels; ``save_png`` writes one atomically.

- ``mcf_figure``: the MCF similarity matrices of one layer, one panel per grain (paper Fig. 5); rows are joints
  (the query), columns the joints or parts of the grain; ``ax.images[0]`` holds the (V, V_i) map as given.
- ``feature_figure``: the last feature map averaged over channels (Fig. 6); x is time, y the joints, so the
  image holds the (V, T') transpose of the (T', V) channel mean.
- ``tdf_figure``: the TDF weights averaged over channels, one line per res-layer, on the input frame axis.
- ``per_class_figure``: per-class accuracy of two models side by side (Fig. 4).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from stfnet.atomic import atomic_open
from stfnet.layouts import Layout


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_png(fig: Figure, path: str | Path) -> None:
    with atomic_open(path) as f:
        fig.savefig(f, format="png")


def part_labels(layout: Layout, grain: int) -> list[str]:
    """Column labels of a grain: the joint names for grain 0, else "part p: joint, joint, ..."."""
    if grain == 0:
        return list(layout.joints)
    return [f"part {p}: {', '.join(layout.joints[j] for j in part)}" for p, part in enumerate(layout.parts[grain - 1])]


def grain_name(layout: Layout, grain: int) -> str:
    if grain == 0:
        return "joints"
    return f"grain {grain}: {len(layout.parts[grain - 1])} parts"


def mcf_figure(maps: Sequence[np.ndarray], layout: Layout, grain_weights: np.ndarray | None = None,
               title: str = "") -> Figure:
    """One panel per grain: the (V, V_i) softmax similarity of every joint to every joint or part of the grain."""
    v = layout.num_joints
    widths = [max(m.shape[1], 4) for m in maps]
    fig = _figure(2.5 + 0.28 * sum(widths) + 1.2 * len(maps), 3.5 + 0.22 * v)
    axes = fig.subplots(1, len(maps), width_ratios=widths, squeeze=False)[0]
    for g, (ax, attention) in enumerate(zip(axes, maps, strict=True)):
        # Own colour range per grain, as in the paper: the contrast within a map is what tells.
        image = ax.imshow(attention, cmap="viridis", aspect="auto", interpolation="nearest")
        ax.set_xticks(range(attention.shape[1]), part_labels(layout, g), rotation=90, fontsize=7)
        ax.set_yticks(range(v), layout.joints if g == 0 else [""] * v, fontsize=7)
        weight = f" (weight {float(grain_weights[g]):.2f})" if grain_weights is not None else ""
        ax.set_title(grain_name(layout, g) + weight, fontsize=9)
        # A colour bar inset beside its panel keeps the panel's full height (a stolen-space bar shrinks under the
        # long part labels); sizes scale with 1/columns so every bar is equally wide.
        columns = widths[g]
        fig.colorbar(image, cax=ax.inset_axes((1 + 0.4 / columns, 0, 0.6 / columns, 1)))
    axes[0].set_ylabel("joint (query)")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def feature_figure(feature_map: np.ndarray, layout: Layout, input_frames: int, title: str = "") -> Figure:
    """The (T', V) channel mean of the last feature map as an image: time on x, joints on y (paper Fig. 6)."""
    steps = feature_map.shape[0]
    fig = _figure(3.0 + 0.25 * max(steps, 16), 2.0 + 0.22 * layout.num_joints)
    ax = fig.subplots()
    image = ax.imshow(feature_map.T, cmap="inferno", aspect="auto", interpolation="nearest")
    ax.set_yticks(range(layout.num_joints), layout.joints, fontsize=7)
    stride = input_frames / steps
    ticks = np.unique(np.linspace(0, steps - 1, min(steps, 9)).round().astype(int))
    ax.set_xticks(ticks, [str(int(t * stride)) for t in ticks])
    ax.set_xlabel(f"time (input frame; one column = {stride:g} frames)")
    ax.set_ylabel("joint")
    fig.colorbar(image, ax=ax, fraction=0.05, pad=0.02, label="mean activation over channels")
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def tdf_figure(weights: dict[int, np.ndarray], input_frames: int, title: str = "") -> Figure:
    """The channel-mean TDF weight (T_l,) of every res-layer, placed on the input frames it covers."""
    fig = _figure(8.0, 4.0)
    ax = fig.subplots()
    colours = colormaps["viridis"](np.linspace(0.0, 0.9, len(weights)))  # early layers dark, deep ones light
    for colour, (layer, curve) in zip(colours, sorted(weights.items()), strict=True):
        stride = input_frames / len(curve)
        frames = (np.arange(len(curve)) + 0.5) * stride - 0.5  # centre of the input frames each step covers
        ax.plot(frames, curve, marker="o", markersize=3, color=colour, label=f"layer {layer}")
    ax.set_xlim(-0.5, input_frames - 0.5)
    ax.set_xlabel("time (input frame)")
    ax.set_ylabel("TDF weight, mean over channels")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def per_class_figure(classes: Sequence[str], accuracy_a: Sequence[float | None], accuracy_b: Sequence[float | None],
                     names: tuple[str, str], title: str = "") -> Figure:
    """Per-class accuracy (%) of two models as paired bars; a class without samples gets no bar."""
    k = len(classes)
    fig = _figure(max(8.0, 0.35 * k + 2), 4.5)
    ax = fig.subplots()
    x = np.arange(k)
    for offset, accuracy, name in ((-0.2, accuracy_a, names[0]), (0.2, accuracy_b, names[1])):
        heights = [np.nan if a is None else 100 * a for a in accuracy]
        ax.bar(x + offset, heights, width=0.4, label=name)
    ax.set_xticks(x, list(classes), rotation=90, fontsize=7 if k > 30 else 8)
    ax.set_xlim(-0.6, k - 0.4)
    ax.set_ylim(0, 100)
    ax.set_ylabel("accuracy (%)")
    ax.legend(fontsize=8, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2, frameon=False)  # above the bars
    ax.grid(axis="y", alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


CONTRIBUTION_PANELS = {  # key of train.analysis.contributions -> panel title and y label
    "mask_change": ("graph mask", "||Ga - G|| / ||G||"),
    "mcf_branch": ("MCF", "||MCF(x) - x|| / ||x||"),
    "tdf_spread": ("TDF", "std over time / mean of the weights"),
}


def contributions_figure(found: dict[str, dict[int, float]], title: str = "") -> Figure:
    """One bar per res-layer and module: how much the module changes the features (``train.analysis.contributions``).
    A module the model lacks gets an empty panel that says so."""
    fig = _figure(10.0, 3.2)
    axes = fig.subplots(1, len(CONTRIBUTION_PANELS))
    for ax, (key, (name, ylabel)) in zip(axes, CONTRIBUTION_PANELS.items(), strict=True):
        values = found.get(key, {})
        layers = sorted(values)
        ax.bar([str(k) for k in layers], [values[k] for k in layers], color="tab:blue")
        if not layers:
            ax.text(0.5, 0.5, "not in this model", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("res-layer")
        ax.set_ylabel(ylabel, fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
