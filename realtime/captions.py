"""What a prediction says in words, the same on the annotated video and in the window."""

from __future__ import annotations

from realtime.recognizer import PersonPrediction, Prediction

STATE_TEXT = {"no_person": "no person", "warming_up": "warming up", "uncertain": "uncertain"}


def state_text(state: str) -> str:
    return STATE_TEXT.get(state, state)


def label_text(label: str | None, top_k: tuple[tuple[str, float], ...], state: str) -> str:
    """"squat 87%" for a shown label, else the state ("uncertain", "warming up")."""
    if label is not None:
        return f"{label} {dict(top_k).get(label, 0.0):.0%}"
    return state_text(state)


def person_caption(person: PersonPrediction) -> str:
    """"#id squat 87%" (or "#id uncertain", "#id warming up") for a tracked person."""
    return f"#{person.person_id} {label_text(person.label, person.top_k, person.state)}"


def people_captions(prediction: Prediction | None) -> dict[int, str]:
    """Each tracked person's caption, by track id."""
    return {p.person_id: person_caption(p) for p in prediction.people} if prediction is not None else {}
