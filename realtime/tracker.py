"""Stable person ids across frames, so each person's sliding window stays their own.

Greedy matching: every (track, detection) pair is scored by the IoU of their keypoint boxes; pairs that do not
overlap enough may still match when the detection's centre is within ``max_jump`` box diagonals of the track's.
Best pairs are taken first. Unmatched detections start new tracks; tracks unseen for ``lost_after`` seconds end.

    tracker = Tracker(max_people=2)
    update = tracker.update([kp_a, kp_b], [sc_a, sc_b], timestamp)   # keypoints (V, C), scores (V,)
    update.ids        # one id per detection kept (None for detections beyond max_people or with no joint seen)
    update.lost       # ids whose tracks ended at this update
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class _Track:
    box: np.ndarray  # (4,) x0, y0, x1, y1
    last_seen: float


@dataclass(frozen=True)
class TrackUpdate:
    ids: list[int | None]  # per detection, in input order
    lost: list[int] = field(default_factory=list)


def keypoint_box(keypoints: np.ndarray, scores: np.ndarray) -> np.ndarray | None:
    """(x0, y0, x1, y1) around the seen joints, or None when no joint is seen."""
    seen = keypoints[scores > 0, :2]
    if seen.size == 0:
        return None
    return np.concatenate([seen.min(axis=0), seen.max(axis=0)]).astype(np.float64)


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class Tracker:
    def __init__(self, max_people: int = 1, lost_after: float = 0.5, min_iou: float = 0.1,
                 max_jump: float = 0.5) -> None:
        self.max_people = max_people
        self.lost_after = lost_after
        self.min_iou = min_iou
        self.max_jump = max_jump
        self._tracks: dict[int, _Track] = {}
        self._next_id = 0

    @property
    def ids(self) -> list[int]:
        return sorted(self._tracks)

    def reset(self) -> list[int]:
        lost = self.ids
        self._tracks.clear()
        return lost

    def update(self, keypoints: list[np.ndarray], scores: list[np.ndarray], timestamp: float) -> TrackUpdate:
        boxes = [keypoint_box(k, s) for k, s in zip(keypoints, scores, strict=True)]
        # Keep the most confident people when there are more than we track.
        order = sorted((i for i, b in enumerate(boxes) if b is not None), key=lambda i: -float(scores[i].sum()))
        kept = order[: self.max_people]
        ids: list[int | None] = [None] * len(keypoints)
        for track_id, det in self._match(boxes, kept):
            ids[det] = track_id
        for det in kept:
            if ids[det] is None:
                ids[det] = self._next_id
                self._next_id += 1
        for det in kept:
            self._tracks[ids[det]] = _Track(box=boxes[det], last_seen=timestamp)
        lost = [tid for tid, tr in self._tracks.items() if timestamp - tr.last_seen > self.lost_after]
        for tid in lost:
            del self._tracks[tid]
        return TrackUpdate(ids=ids, lost=lost)

    def _match(self, boxes: list[np.ndarray | None], kept: list[int]) -> list[tuple[int, int]]:
        pairs = []  # (score, track id, detection)
        for tid, track in self._tracks.items():
            diag = float(np.hypot(*(track.box[2:] - track.box[:2]))) or 1.0
            centre = (track.box[:2] + track.box[2:]) / 2
            for det in kept:
                box = boxes[det]
                iou = box_iou(track.box, box)
                jump = float(np.hypot(*((box[:2] + box[2:]) / 2 - centre))) / diag
                if iou >= self.min_iou or jump <= self.max_jump:
                    pairs.append((iou - jump, tid, det))  # overlap first; nearer centre breaks ties
        matches, used_tracks, used_dets = [], set(), set()
        for _, tid, det in sorted(pairs, reverse=True):
            if tid not in used_tracks and det not in used_dets:
                matches.append((tid, det))
                used_tracks.add(tid)
                used_dets.add(det)
        return matches
