"""Draw skeletons and the current label on BGR frames (OpenCV), and write them to a video file atomically.

    with AnnotatedVideo("out.mp4", fps=30, size=(w, h)) as video:   # writes to a hidden temporary file
        video.write(draw(image, result.people, layout, prediction))
        video.commit()                                              # only now renamed to out.mp4

Leaving the block without commit() (an error, Ctrl-C) deletes the temporary file.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from realtime.recognizer import Prediction, TrackedPerson
from stfnet.atomic import remove_stale_temporaries, temporary_path
from stfnet.errors import UserError
from stfnet.layouts import Layout

FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}
BONE = (255, 200, 0)  # BGR
TEXT = (255, 255, 255)
STATE_TEXT = {"no_person": "no person", "warming_up": "warming up"}


def _joint_colour(attention: float) -> tuple[int, int, int]:
    """Blue (little attention) to red (much), BGR."""
    a = float(np.clip(attention, 0.0, 1.0))
    return (int(255 * (1 - a)), 64, int(255 * a))


def draw(image: np.ndarray, people: tuple[TrackedPerson, ...], layout: Layout,
         prediction: Prediction | None) -> np.ndarray:
    """A copy of ``image`` with each person's skeleton and the prediction's label (or state) drawn on it."""
    out = image.copy()
    attention = None
    if prediction is not None and prediction.state == "ok" and prediction.joint_attention.max() > 0:
        attention = prediction.joint_attention / prediction.joint_attention.max()  # relative, for colour
    for person in people:
        xy = np.round(person.keypoints[:, :2]).astype(int)
        seen = person.scores > 0
        for child, parent in layout.edges:
            if seen[child] and seen[parent]:
                cv2.line(out, tuple(xy[child]), tuple(xy[parent]), BONE, 2, cv2.LINE_AA)
        main = prediction is not None and person.person_id == prediction.person_id
        for j in np.flatnonzero(seen):
            colour = _joint_colour(attention[j]) if (attention is not None and main) else (0, 255, 0)
            cv2.circle(out, tuple(xy[j]), 3, colour, -1, cv2.LINE_AA)
    _label(out, prediction)
    return out


def _label(image: np.ndarray, prediction: Prediction | None) -> None:
    if prediction is None:
        return
    if prediction.label is not None:
        text = f"{prediction.label} {dict(prediction.top_k).get(prediction.label, 0.0):.2f}"
    else:
        text = STATE_TEXT.get(prediction.state, prediction.state)
    (w, h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.6, 1)
    cv2.rectangle(image, (4, 4), (12 + w, 14 + h), (0, 0, 0), -1)
    cv2.putText(image, text, (8, 8 + h), cv2.FONT_HERSHEY_SIMPLEX, 0.6, TEXT, 1, cv2.LINE_AA)


class AnnotatedVideo:
    """A video file that appears under its name only once complete."""

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int]) -> None:
        self.path = Path(path)
        fourcc = FOURCC.get(self.path.suffix.lower())
        if fourcc is None:
            raise UserError(f"cannot write annotated video {self.path}: use a .mp4 or .avi file name")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Same folder, so the final rename is atomic; same suffix, so OpenCV picks the right container.
        remove_stale_temporaries(self.path)
        self.tmp = temporary_path(self.path, f".partial{self.path.suffix}")
        self._writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*fourcc), fps, size)
        if not self._writer.isOpened():
            self.tmp.unlink(missing_ok=True)
            raise UserError(f"cannot write annotated video {self.path}: OpenCV could not open a {fourcc} writer")
        self._committed = False

    def write(self, image: np.ndarray) -> None:
        self._writer.write(image)

    def commit(self) -> None:
        self._writer.release()
        self.tmp.replace(self.path)
        self._committed = True

    def __enter__(self) -> AnnotatedVideo:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not self._committed:
            self._writer.release()
            self.tmp.unlink(missing_ok=True)
