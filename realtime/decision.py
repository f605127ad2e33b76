"""What label to show for a person: "uncertain" below a confidence threshold, and no flicker.

    decider = LabelDecider(DecisionConfig(min_confidence=0.5))
    shown = decider.decide(person_id, probabilities, timestamp)   # a class index, or None for "uncertain"

Each prediction proposes an option: the best class when its (calibrated, smoothed) probability reaches
``min_confidence``; else the class already shown while it keeps at least ``min_confidence - release_margin``
(hysteresis: a label that just dips under the threshold stays); else "uncertain". The shown option changes to
a proposal only after that proposal has been made for ``min_dwell`` seconds in a row, so a one-window blip
never changes what is shown. A person's first prediction (after the window warmed up) is shown at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_MIN_CONFIDENCE = 0.5  # calibrated top probability below which a prediction is "uncertain"


@dataclass(frozen=True)
class DecisionConfig:
    min_confidence: float = DEFAULT_MIN_CONFIDENCE  # below this calibrated probability: uncertain (0: never)
    release_margin: float = 0.1  # a shown label is kept down to min_confidence - release_margin
    min_dwell: float = 0.3  # seconds a new proposal must persist before it is shown (0: at once)

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be between 0 and 1, got {self.min_confidence}")
        if self.release_margin < 0 or self.min_dwell < 0:
            raise ValueError("release_margin and min_dwell must not be negative")


@dataclass
class _PersonState:
    shown: int | None  # class index shown, None: uncertain
    proposal: int | None  # the option proposed by the latest predictions
    since: float  # when that proposal was first made (stream seconds)
    last: float  # time of the latest prediction


class LabelDecider:
    def __init__(self, config: DecisionConfig | None = None) -> None:
        self.config = config or DecisionConfig()
        self._people: dict[int, _PersonState] = {}

    def propose(self, probabilities: np.ndarray, shown: int | None) -> int | None:
        """The option one prediction asks for: a class index, or None for uncertain."""
        best = int(np.argmax(probabilities))
        if probabilities[best] >= self.config.min_confidence:
            return best
        if shown is not None and probabilities[shown] >= self.config.min_confidence - self.config.release_margin:
            return shown
        return None

    def decide(self, person_id: int, probabilities: np.ndarray, timestamp: float) -> int | None:
        state = self._people.get(person_id)
        if state is None or timestamp < state.last:  # new person, or a new stream: no label to keep yet
            proposal = self.propose(probabilities, None)
            self._people[person_id] = _PersonState(proposal, proposal, timestamp, timestamp)
            return proposal
        proposal = self.propose(probabilities, state.shown)
        if proposal != state.proposal:
            state.proposal, state.since = proposal, timestamp
        state.last = timestamp
        if proposal != state.shown and timestamp - state.since >= self.config.min_dwell - 1e-9:
            state.shown = proposal
        return state.shown

    def retain(self, person_ids: set[int]) -> None:
        """Forget people no longer tracked."""
        for pid in set(self._people) - person_ids:
            del self._people[pid]
