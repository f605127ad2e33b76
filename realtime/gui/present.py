"""What the widgets show, computed from Predictions and layouts (no Qt): tick labels, curves, label history.

The widgets stay display-only; the choices about what to show (which block, mean over channels, how past
labels merge into segments) live here, where they are plain functions and easy to test.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from realtime.captions import label_text, state_text
from realtime.recognizer import Prediction
from stfnet.layouts import Layout
from stfnet.views import relative_profile, stretch


def joint_ticks(layout: Layout) -> list[str]:
    """Row labels of every MCF map: "index name", so the joint grain's numbered columns can be read off them."""
    return [f"{j} {name}" for j, name in enumerate(layout.joints)]


def part_names(layout: Layout) -> list[list[str]]:
    """For each grain (0 = joints), a short name per column: the joint's name, or the joints a part pools."""
    grains = [list(layout.joints)]
    for grain in layout.parts:
        names = []
        for part in grain:
            joints = [layout.joints[j] for j in part]
            names.append(" ".join(joints) if len(joints) <= 2 else f"{joints[0]} +{len(joints) - 1}")
        grains.append(names)
    return grains


def grain_title(layout: Layout, grain: int, weight: float | None) -> str:
    kind = "joints" if grain == 0 else ("parts" if layout.num_grains == 2 else f"parts {grain}")
    suffix = f" · weight {weight:.2f}" if weight is not None else ""
    return f"{kind}{suffix}"


def block_maps(prediction: Prediction, block: int, means: dict[str, list] | None = None) -> list[np.ndarray]:
    """The (V, V_i) joint-to-part attention of each grain in res-layer ``block`` ([] when it has none); with
    ``means`` (the checkpoint's views), each map minus its mean over a dataset split: what is special here."""
    maps = list(prediction.mcf_maps.get(block, []))
    if means is None:
        return maps
    return [m - np.asarray(means[f"mcf/{block}/{g}"]) if f"mcf/{block}/{g}" in means else m
            for g, m in enumerate(maps)]


def map_levels(views: dict, block: int, grain: int, difference: bool) -> tuple[float, float] | None:
    """The fixed colour range of a map view over the checkpoint's measured split (None: none measured)."""
    ranges = views.get("difference_ranges" if difference else "ranges", {})
    found = ranges.get(f"mcf/{block}/{grain}")
    if found is None:
        return None
    low, high = found
    if difference:  # centred, so that "as usual" is the middle colour
        high = max(abs(low), abs(high))
        low = -high
    return float(low), float(high)


def grain_weights(prediction: Prediction, block: int) -> list[float | None]:
    weights = prediction.mcf_grain_weights.get(block)
    count = len(prediction.mcf_maps.get(block, []))
    return [None] * count if weights is None else [float(w) for w in weights]


def temporal_curve(prediction: Prediction, layer: int) -> tuple[np.ndarray, np.ndarray]:
    """TDF weights of ``layer`` per (strided) frame relative to their mean over the window (0: an average frame,
    +0.1: weighted a tenth more), at seconds before the newest frame.

    Later layers have fewer frames (temporal stride 2); each covers an equal share of the window.
    """
    y = relative_profile(prediction.tdf_weights[layer])  # (C, T') -> (T',)
    start, end = prediction.window_span
    count = y.size
    if end > start:
        x = (start - end) + (np.arange(count) + 0.5) * (end - start) / count
    else:
        x = np.arange(count, dtype=np.float64) - (count - 1)
    return x, y


JOINT_SOURCES = {"evidence": "class evidence", "attention": "MCF attention"}


def joint_colouring(prediction: Prediction | None, source: str = "evidence") -> np.ndarray | None:
    """Per-joint values in [0, 1] for colouring the joints on the video, stretched between the lowest and
    highest joint in view (joints out of view would otherwise take up the scale); None when there is nothing.

    ``evidence``: what each joint adds to the window's best class (it varies with the action); ``attention``:
    how much attention each joint receives in the last MCF block (spread thin, often within a few percent).
    """
    if prediction is None or prediction.state not in ("ok", "uncertain"):
        return None
    values = prediction.joint_evidence if source == "evidence" else prediction.joint_attention
    if values is None:
        return None
    seen = prediction.scores > 0 if prediction.scores is not None else None
    return stretch(values, seen)


def headline(prediction: Prediction | None) -> str:
    """One line for the video: the best label and its probability, or the state."""
    if prediction is None:
        return ""
    return label_text(prediction.label, prediction.top_k, prediction.state)


@dataclass(frozen=True)
class Segment:
    start: float  # stream seconds
    end: float
    text: str  # the label, or the state ("warming up", "no person")
    label_index: int | None  # index into the checkpoint's labels; None for states


class LabelHistory:
    """The best label over the last ``seconds`` of stream time, merged into segments for the history strip."""

    def __init__(self, seconds: float = 10.0) -> None:
        self.seconds = seconds
        self._entries: deque[tuple[float, str, int | None]] = deque()

    def clear(self) -> None:
        self._entries.clear()

    def add(self, prediction: Prediction, labels: tuple[str, ...]) -> None:
        if self._entries and prediction.timestamp < self._entries[-1][0]:
            self.clear()  # time went backwards: a seek or a loop
        text = prediction.label or state_text(prediction.state)
        index = labels.index(prediction.label) if prediction.label in labels else None
        self._entries.append((prediction.timestamp, text, index))
        # Keep one entry older than the span: it says what was shown at the span's start.
        while len(self._entries) > 1 and self._entries[1][0] < prediction.timestamp - self.seconds:
            self._entries.popleft()

    @property
    def span(self) -> tuple[float, float]:
        newest = self._entries[-1][0] if self._entries else 0.0
        return newest - self.seconds, newest

    def segments(self) -> list[Segment]:
        start_of_span, newest = self.span
        segments: list[Segment] = []
        for i, (time, text, index) in enumerate(self._entries):
            end = self._entries[i + 1][0] if i + 1 < len(self._entries) else newest
            start = max(time, start_of_span)
            if segments and segments[-1].text == text:
                segments[-1] = Segment(segments[-1].start, end, text, index)
            elif end > start or i + 1 == len(self._entries):
                segments.append(Segment(start, end, text, index))
        return segments


class RateMeter:
    """Events per second over the last ``seconds`` of wall-clock time."""

    def __init__(self, seconds: float = 1.0) -> None:
        self.seconds = seconds
        self._times: deque[float] = deque()

    def tick(self, now: float) -> None:
        self._times.append(now)
        while self._times and self._times[0] < now - self.seconds:
            self._times.popleft()

    def rate(self, now: float) -> float:
        while self._times and self._times[0] < now - self.seconds:
            self._times.popleft()
        return len(self._times) / self.seconds
