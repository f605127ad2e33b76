"""Draw skeletons and the current label on BGR frames (OpenCV), and write them to a video file atomically.

    with AnnotatedVideo("out.mp4", fps=30, size=(w, h)) as video:   # writes to a hidden temporary file;
                                                                    # video.codec: "H.264", "MPEG-4 Part 2", ...
        video.write(draw(image, result.people, layout, prediction))
        video.commit()                                              # only now renamed to out.mp4

Leaving the block without commit() (an error, Ctrl-C) deletes the temporary file.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from realtime.captions import label_text, people_captions
from realtime.recognizer import Prediction, TrackedPerson
from realtime.sources import quiet_opencv
from stfnet.atomic import remove_stale_temporaries, temporary_path
from stfnet.errors import UserError
from stfnet.layouts import Layout

# Codecs to try per container, best first: H.264 plays in browsers, but OpenCV's pip wheels usually lack its
# encoder (then MPEG-4 Part 2, which desktop players play); WebM's VP9 plays in every browser.
FOURCCS = {".mp4": ("avc1", "mp4v"), ".m4v": ("avc1", "mp4v"), ".mov": ("avc1", "mp4v"), ".webm": ("VP90", "VP80"),
           ".avi": ("MJPG",), ".mkv": ("MJPG",)}
CODEC_NAMES = {"avc1": "H.264", "mp4v": "MPEG-4 Part 2", "VP90": "VP9", "VP80": "VP8", "MJPG": "Motion JPEG"}
BONE = (255, 200, 0)  # BGR
TEXT = (255, 255, 255)


def _joint_colour(attention: float) -> tuple[int, int, int]:
    """Blue (little attention) to red (much), BGR."""
    a = float(np.clip(attention, 0.0, 1.0))
    return (int(255 * (1 - a)), 64, int(255 * a))


def draw(image: np.ndarray, people: tuple[TrackedPerson, ...], layout: Layout,
         prediction: Prediction | None) -> np.ndarray:
    """A copy of ``image`` with each person's skeleton, id and label, and the main prediction's label (or state)
    drawn on it."""
    out = image.copy()
    captions = people_captions(prediction)
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
        if len(people) > 1 and seen.any():  # with several people, each gets their own caption above them
            top = xy[seen][np.argmin(xy[seen][:, 1])]
            _text_box(out, captions.get(person.person_id, f"#{person.person_id}"), (int(top[0]), int(top[1]) - 24),
                      0.45, centred=True)
    _label(out, prediction)
    return out


def _text_box(image: np.ndarray, text: str, corner: tuple[int, int], scale: float, centred: bool = False) -> None:
    """White text on a black box whose top-left corner (or top centre) is ``corner``, kept inside the image."""
    (w, h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    left = corner[0] - (w + 8) // 2 if centred else corner[0]
    x = int(np.clip(left, 0, max(0, image.shape[1] - w - 8)))
    y = int(np.clip(corner[1], 0, max(0, image.shape[0] - h - 10)))
    cv2.rectangle(image, (x, y), (x + w + 8, y + h + 10), (0, 0, 0), -1)
    cv2.putText(image, text, (x + 4, y + 5 + h), cv2.FONT_HERSHEY_SIMPLEX, scale, TEXT, 1, cv2.LINE_AA)


def _label(image: np.ndarray, prediction: Prediction | None) -> None:
    if prediction is None:
        return
    text = label_text(prediction.label, prediction.top_k, prediction.state)
    if prediction.person_id is not None and len(prediction.people) > 1:
        text = f"#{prediction.person_id} {text}"
    _text_box(image, text, (4, 4), 0.6)


class AnnotatedVideo:
    """A video file that appears under its name only once complete."""

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int]) -> None:
        self.path = Path(path)
        fourccs = FOURCCS.get(self.path.suffix.lower())
        if fourccs is None:
            raise UserError(f"cannot write annotated video {self.path}: use a .mp4, .webm or .avi file name")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Same folder, so the final rename is atomic; same suffix, so OpenCV picks the right container.
        remove_stale_temporaries(self.path)
        self.tmp = temporary_path(self.path, f".partial{self.path.suffix}")
        self._writer = None
        with quiet_opencv():  # a missing encoder is expected, not worth OpenCV's error lines
            for fourcc in fourccs:
                writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*fourcc), fps, size)
                if writer.isOpened():
                    self._writer, self.codec = writer, CODEC_NAMES[fourcc]
                    break
                writer.release()
        if self._writer is None:
            self.tmp.unlink(missing_ok=True)
            raise UserError(f"cannot write annotated video {self.path}: this OpenCV build has no "
                            f"{' or '.join(CODEC_NAMES[f] for f in fourccs)} encoder; try a .avi file name")
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
