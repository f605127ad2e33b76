"""A checkpoint ready for live input: windows of keypoints in, immutable ``Prediction`` objects out.

API::

    recognizer = Recognizer.from_file("model.pt")          # cuda when available, else cpu; autocast on cuda;
                                                           # on cpu it sets torch's thread count (default_threads)
    recognizer.labels, recognizer.layout, recognizer.num_frames, recognizer.window_seconds
    prediction = recognizer.predict(request)               # a Request is built by engine.Engine

``predict`` normalises each window exactly as the checkpoint records (``stfnet.features.normalize`` and
``to_stream`` with the checkpoint's options), runs ``forward_with_maps``, turns the logits into calibrated
probabilities (divided by the checkpoint's ``temperature``, fitted on a validation split when it was trained),
smooths each person's probabilities with an exponential moving average over time, decides what label to show
(``decision.LabelDecider``: "uncertain" below ``min_confidence``, no flicker) and returns a ``Prediction``. It
holds the smoothing and decision state, so one thread calls it, in time order. No threads here:
``engine.Engine`` schedules it.

A ``Prediction``'s top-level fields describe the main person (the first in ``people``); ``people`` holds every
tracked person. "uncertain", "no_person" and "warming_up" are states, not errors: "uncertain" keeps its top_k
and probabilities (what the model thought, for the timeline and a greyed display) but has no label; the other
two have an empty top_k and zero probabilities. All arrays in a Prediction are read-only.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from realtime.decision import DEFAULT_MIN_CONFIDENCE, DecisionConfig, LabelDecider
from stfnet.checkpoint import Checkpoint, load_checkpoint
from stfnet.features import normalize, to_stream

STATES = ("ok", "uncertain", "no_person", "warming_up")
DEFAULT_FPS = 30.0  # frame rate a checkpoint's window is assumed to span when it records neither fps nor seconds


@dataclass(frozen=True)
class TrackedPerson:
    """A tracked person's newest skeleton in the model's layout."""

    person_id: int
    keypoints: np.ndarray  # (V, C)
    scores: np.ndarray  # (V,)


@dataclass(frozen=True)
class WindowSample:
    """One model input: a person's window (or, for multi-person checkpoints, everyone's on that person's times)."""

    person_ids: tuple[int, ...]  # whose skeletons it holds; the first one's window sets the sample times
    keypoints: np.ndarray  # (M, T, V, C) resampled, before normalisation
    scores: np.ndarray  # (M, T, V)
    span: tuple[float, float]  # (start, end) stream seconds


@dataclass(frozen=True)
class Request:
    """Everything one prediction needs, copied out of the engine's buffers (safe to hand to another thread)."""

    timestamp: float  # stream time of the newest frame
    frame_index: int
    people: tuple[TrackedPerson, ...]  # everyone tracked, main person first
    samples: tuple[WindowSample, ...]  # windows ready to classify; empty while everyone is warming up


@dataclass(frozen=True)
class PersonPrediction:
    person_id: int
    state: str  # "ok", "uncertain" or "warming_up"
    top_k: tuple[tuple[str, float], ...]
    probabilities: np.ndarray  # (classes,) calibrated and smoothed; zeros while warming up
    keypoints: np.ndarray  # (V, C) newest frame, model layout
    scores: np.ndarray  # (V,)
    label: str | None = None  # the label shown (stable, see decision.py); None unless "ok"


@dataclass(frozen=True)
class Prediction:
    timestamp: float  # stream time of the newest frame in the window (s)
    frame_index: int  # index of that frame
    state: str  # "ok", "uncertain", "no_person" or "warming_up" (of the main person)
    top_k: tuple[tuple[str, float], ...]  # (label, smoothed probability), best first; () unless ok or uncertain
    probabilities: np.ndarray  # (classes,) calibrated, smoothed over time
    mcf_maps: dict[int, list[np.ndarray]]  # res-layer -> per grain (V, V_i) joint-to-part attention, main person
    mcf_grain_weights: dict[int, np.ndarray]  # res-layer -> (grains,) learned grain weights
    tdf_weights: dict[int, np.ndarray]  # res-layer -> (C, T') temporal weights in (0, 1)
    window_span: tuple[float, float]  # (start, end) of the classified window, stream seconds
    latency_ms: float  # model time: normalisation + forward pass, for all people
    joint_attention: np.ndarray  # (V,) attention each joint receives in the last MCF layer (sums to 1)
    keypoints: np.ndarray | None  # (V, C) main person's newest skeleton in the model layout; None: nobody
    scores: np.ndarray | None  # (V,)
    person_id: int | None = None  # main person's track id
    people: tuple[PersonPrediction, ...] = ()  # everyone tracked, main person first
    label: str | None = None  # the main person's shown label: stable, None unless "ok" (may differ from top_k[0])
    evidence: np.ndarray | None = None  # (T', V) what each frame and joint adds to the window's best class's logit

    @property
    def joint_evidence(self) -> np.ndarray | None:
        """(V,) each joint's share of the best class's logit, over the window."""
        return None if self.evidence is None else self.evidence.sum(axis=0)


def without_maps(prediction: Prediction) -> Prediction:
    """The prediction without its attention maps (about 100 KiB), for keeping many of them."""
    return dataclasses.replace(prediction, mcf_maps={}, mcf_grain_weights={}, tdf_weights={})


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.array(array, dtype=np.float32)  # a private copy nobody else can write to
    array.flags.writeable = False
    return array


class ProbabilitySmoother:
    """Exponential moving average of each person's probabilities, by time: ``half_life`` seconds (0: none).

    Weighting by elapsed time makes the smoothing the same whether predictions come every 50 ms or 500 ms.
    """

    def __init__(self, half_life: float) -> None:
        self.half_life = half_life
        self._state: dict[int, tuple[float, np.ndarray]] = {}

    def update(self, person_id: int, probabilities: np.ndarray, timestamp: float) -> np.ndarray:
        previous = self._state.get(person_id)
        if previous is None or self.half_life <= 0 or timestamp < previous[0]:
            smoothed = probabilities
        else:
            keep = 0.5 ** ((timestamp - previous[0]) / self.half_life)
            smoothed = keep * previous[1] + (1.0 - keep) * probabilities
        self._state[person_id] = (timestamp, smoothed)
        return smoothed

    def retain(self, person_ids: set[int]) -> None:
        """Forget people no longer tracked (bounded memory, and a returning id starts fresh)."""
        for pid in set(self._state) - person_ids:
            del self._state[pid]


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def default_threads() -> int:
    """CPU threads for the model: leave two cores to capture, pose and drawing, and never more than four.

    More threads than free cores is far worse than too few: the model's threads then wait on each other while
    pose holds a core (measured on 2 cores: a forward pass 5-25x slower with two threads than with one).
    """
    return max(1, min(4, (os.cpu_count() or 1) - 2))


class Recognizer:
    """``decision`` defaults to the checkpoint's own ``min_confidence`` (recorded when it was calibrated), else
    ``DEFAULT_MIN_CONFIDENCE``; ``min_confidence`` alone overrides just the threshold."""

    def __init__(self, checkpoint: Checkpoint, device: str | torch.device | None = None, top_k: int = 5,
                 smoothing_half_life: float = 0.5, threads: int | None = None,
                 decision: DecisionConfig | None = None, min_confidence: float | None = None) -> None:
        self.checkpoint = checkpoint
        self.device = torch.device(device) if device is not None else default_device()
        if self.device.type == "cpu":
            torch.set_num_threads(threads or default_threads())  # process-wide: torch has one intra-op pool
        self.model = checkpoint.build_model(self.device, fused=True)  # BatchNorms folded: the same outputs, faster
        self.layout = checkpoint.layout
        self.norm = checkpoint.normalize
        self.stream = checkpoint.stream
        self.labels = tuple(checkpoint.labels)
        self.top_k = min(top_k, len(self.labels))
        self.smoother = ProbabilitySmoother(smoothing_half_life)
        self.temperature = float(checkpoint.extra.get("temperature") or 1.0)
        decision = decision or DecisionConfig(
            min_confidence=float(checkpoint.extra.get("min_confidence", DEFAULT_MIN_CONFIDENCE)))
        if min_confidence is not None:
            decision = dataclasses.replace(decision, min_confidence=min_confidence)
        self.decider = LabelDecider(decision)

    @property
    def min_confidence(self) -> float:
        return self.decider.config.min_confidence

    def set_min_confidence(self, value: float) -> None:
        """Change the threshold from now on (the GUI's control). One attribute is replaced, so the model thread
        sees the old or the new settings, never a mix."""
        self.decider.config = dataclasses.replace(self.decider.config, min_confidence=value)

    @classmethod
    def from_file(cls, path: str | Path, device: str | torch.device | None = None, **kwargs: Any) -> Recognizer:
        return cls(load_checkpoint(path, map_location="cpu"), device=device, **kwargs)

    @property
    def num_frames(self) -> int:
        return self.norm.num_frames

    @property
    def num_persons(self) -> int:
        return self.norm.num_persons

    @property
    def window_seconds(self) -> float:
        """Seconds of motion one window covers: the window the model was trained on, else (older checkpoints) the
        duration they recorded, else num_frames at their fps (30)."""
        if self.norm.window_seconds:
            return self.norm.window_seconds
        extra = self.checkpoint.extra
        if extra.get("window_seconds"):
            return float(extra["window_seconds"])
        return self.num_frames / float(extra.get("fps") or DEFAULT_FPS)

    def model_input(self, window: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """``(M, T, V, C)`` keypoints -> ``(C', T, V, M')`` stream, exactly as the checkpoint was trained."""
        x = normalize(window, scores, self.layout, self.norm)
        return to_stream(x, self.layout, self.stream, self.norm.coords)

    @torch.inference_mode()
    def forward(self, batch: np.ndarray) -> tuple[np.ndarray, Any]:
        """Calibrated probabilities ``(N, classes)``, the focus maps, and the class evidence ``(T', V)`` of the
        first sample's best class, for input ``(N, C, T, V, M)``."""
        x = torch.from_numpy(batch).to(self.device)
        with torch.autocast("cuda", dtype=torch.float16, enabled=self.device.type == "cuda"):
            logits, maps = self.model.forward_with_maps(x)
        evidence = self.model.class_evidence(maps.features[:1].float(), logits[:1].argmax(dim=1))[0]
        return (logits.float() / self.temperature).softmax(dim=-1).cpu().numpy(), maps, evidence.cpu().numpy()

    def predict(self, request: Request) -> Prediction:
        self.smoother.retain({p.person_id for p in request.people})
        self.decider.retain({p.person_id for p in request.people})
        if not request.samples:
            return self._empty(request)
        started = time.perf_counter()
        batch = np.stack([self.model_input(s.keypoints, s.scores) for s in request.samples])  # (N, C, T, V, M)
        probabilities, maps, evidence = self.forward(batch)
        latency_ms = (time.perf_counter() - started) * 1000
        by_person: dict[int, np.ndarray] = {}
        for sample, probs in zip(request.samples, probabilities, strict=True):
            smoothed = self.smoother.update(sample.person_ids[0], probs, request.timestamp)
            for pid in sample.person_ids:
                by_person.setdefault(pid, smoothed)
        # The main person is the first one classified, so the maps and the top-level fields agree.
        rank: dict[int, int] = {}
        for sample in request.samples:
            for pid in sample.person_ids:
                rank.setdefault(pid, len(rank))
        ordered = sorted(request.people, key=lambda p: rank.get(p.person_id, len(rank)))
        people = tuple(self._person(p, by_person.get(p.person_id), request.timestamp) for p in ordered)
        main = people[0]
        # Maps of sample 0, person 0: the model's (N*M) rows are sample-major.
        mcf = {layer: [_frozen(g[0].float().cpu().numpy()) for g in grains] for layer, grains in maps.mcf.items()}
        last = mcf[max(mcf)][0] if mcf else None  # joint-level grain of the last MCF layer, (V, V)
        return Prediction(
            timestamp=request.timestamp,
            frame_index=request.frame_index,
            state=main.state,
            top_k=main.top_k,
            probabilities=main.probabilities,
            mcf_maps=mcf,
            mcf_grain_weights={k: _frozen(v.float().cpu().numpy()) for k, v in maps.mcf_grain_weights.items()},
            tdf_weights={k: _frozen(v[0].float().cpu().numpy()) for k, v in maps.tdf.items()},
            window_span=request.samples[0].span,
            latency_ms=latency_ms,
            joint_attention=_frozen(last.mean(axis=0) if last is not None else np.zeros(self.layout.num_joints)),
            keypoints=main.keypoints,
            scores=main.scores,
            person_id=main.person_id,
            people=people,
            label=main.label,
            evidence=_frozen(evidence),
        )

    def _person(self, person: TrackedPerson, probabilities: np.ndarray | None, timestamp: float) -> PersonPrediction:
        if probabilities is None:
            return PersonPrediction(person.person_id, "warming_up", (), _frozen(np.zeros(len(self.labels))),
                                    _frozen(person.keypoints), _frozen(person.scores))
        best = np.argsort(-probabilities, kind="stable")[: self.top_k]
        top_k = tuple((self.labels[i], float(probabilities[i])) for i in best)
        shown = self.decider.decide(person.person_id, probabilities, timestamp)
        return PersonPrediction(person.person_id, "uncertain" if shown is None else "ok", top_k,
                                _frozen(probabilities), _frozen(person.keypoints), _frozen(person.scores),
                                None if shown is None else self.labels[shown])

    def _empty(self, request: Request) -> Prediction:
        """A prediction without inference: nobody there, or nobody with enough frames yet."""
        people = tuple(self._person(p, None, request.timestamp) for p in request.people)
        main = people[0] if people else None
        return Prediction(
            timestamp=request.timestamp,
            frame_index=request.frame_index,
            state="warming_up" if people else "no_person",
            top_k=(),
            probabilities=_frozen(np.zeros(len(self.labels))),
            mcf_maps={},
            mcf_grain_weights={},
            tdf_weights={},
            window_span=(request.timestamp, request.timestamp),
            latency_ms=0.0,
            joint_attention=_frozen(np.zeros(self.layout.num_joints)),
            keypoints=main.keypoints if main else None,
            scores=main.scores if main else None,
            person_id=main.person_id if main else None,
            people=people,
        )
