"""Several people with MediaPipe's bundled models, offline: the BlazePose detector and landmark model run directly.

MediaPipe's solution API (``solutions.pose``) follows one person, and its multi-person Tasks model is a separate
download. Its wheel holds the two networks the solution runs, as plain ``.tflite`` files: the person detector
(``pose_detection.tflite``) and the landmark model (``pose_landmark_full.tflite``). This module runs them with a
LiteRT interpreter, as MediaPipe's own graph does:

1. detector: the frame letterboxed to 224 x 224 in [-1, 1]; 2254 SSD anchors; a box and 4 keypoints per anchor
   (keypoint 0: the hips' centre, 1: a point on the circle around the body, giving its size and tilt); scores
   through a sigmoid, kept above 0.5, merged by weighted non-maximum suppression. The detector was made for
   people near the camera and misses small ones, so it also looks at overlapping tiles two thirds of the
   frame's shorter side wide (4 across, 2 down), where people appear larger;
2. region of interest per person: centred on keypoint 0, a square of 2.5 x the distance to keypoint 1, rotated so
   that the body is upright;
3. landmark model on that square (256 x 256 in [0, 1]): 39 landmarks (the 33 of MediaPipe Pose, then 6 for
   internal use) with visibility, and a presence flag; projected back to the frame;
4. tracking: landmarks 33 and 34 give next frame's region like the detector's keypoints do, so the detector only
   runs to find people not yet followed: every ``detect_every`` frames while fewer than ``max_people`` are
   followed, and at once when somebody was lost.

    estimator = MultiPersonPose(max_people=3)
    people = estimator(frame_bgr)        # list[Person], mediapipe33 keypoints in pixels, visibility scores
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from realtime.pose import KEEP_SIZE_FACTOR, MIN_PERSON_SIZE, MIN_VISIBILITY, Person, big_enough, quiet_native_logs
from stfnet.errors import SourceError

DETECTOR_SIZE = 224
LANDMARK_SIZE = 256
NUM_LANDMARKS = 39  # 33 body landmarks, then 33: hips' centre and 34: the body-size point (for the next region)
ROI_SCALE = 1.25  # the region is this much larger than the circle around the body
MIN_DETECTION_SCORE = 0.5
MIN_PRESENCE = 0.5  # the landmark model's own flag that a body is in the region
NMS_IOU = 0.3


def _modules() -> Path:
    import mediapipe

    return Path(mediapipe.__file__).parent / "modules"


def ssd_anchors() -> np.ndarray:
    """(2254, 2) anchor centres in [0, 1] (x, y): MediaPipe's pose detector anchors (strides 8, 16, 32, 32, 32,
    two anchors per cell, fixed size 1), layers of equal stride merged as its SsdAnchorsCalculator does."""
    centres = []
    for stride, layers in ((8, 1), (16, 1), (32, 3)):
        cells = math.ceil(DETECTOR_SIZE / stride)
        y, x = np.mgrid[0:cells, 0:cells]
        grid = np.stack([(x + 0.5) / cells, (y + 0.5) / cells], axis=-1).reshape(-1, 1, 2)  # (cells², 1, 2)
        centres.append(np.repeat(grid, 2 * layers, axis=1).reshape(-1, 2))
    return np.concatenate(centres).astype(np.float32)


@dataclass(frozen=True)
class Detection:
    score: float
    box: np.ndarray  # (4,) x0, y0, x1, y1 in frame pixels
    keypoints: np.ndarray  # (4, 2) in frame pixels


@dataclass(frozen=True)
class Region:
    """A rotated square around one person, where the landmark model looks."""

    centre: np.ndarray  # (2,) pixels
    size: float  # side, pixels
    rotation: float  # radians; rotating the square by it makes the body upright
    shown: bool = False  # the person in it was big enough to be returned last frame

    def transform(self, side: int) -> np.ndarray:
        """(2, 3) affine map from the frame to a ``side`` x ``side`` crop of this region."""
        cos, sin = math.cos(self.rotation), math.sin(self.rotation)
        scale = side / self.size
        # crop = scale * R(-rotation) (p - centre) + side / 2
        rot = np.array([[cos, sin], [-sin, cos]]) * scale
        return np.hstack([rot, (side / 2 - rot @ self.centre)[:, None]]).astype(np.float64)

    def box(self) -> np.ndarray:
        half = self.size / 2
        return np.concatenate([self.centre - half, self.centre + half])


def region_from_points(start: np.ndarray, end: np.ndarray) -> Region:
    """The region MediaPipe derives from two points: centred on ``start``, 2 x 1.25 x their distance wide, turned
    so that the line start -> end points up (AlignmentPointsRects with a 90-degree target angle)."""
    dx, dy = float(end[0] - start[0]), float(end[1] - start[1])
    rotation = math.pi / 2 - math.atan2(-dy, dx)
    rotation = (rotation + math.pi) % (2 * math.pi) - math.pi
    return Region(np.asarray(start, np.float64), 2 * math.hypot(dx, dy) * ROI_SCALE, rotation)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union > 0 else 0.0


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Probabilities from the networks' logits, in float64 and clipped so that extreme logits do not overflow."""
    return 1 / (1 + np.exp(-np.clip(logits.astype(np.float64), -100, 100)))


def decode_detections(raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray,
                      letterbox: tuple[float, float, float], offset: tuple[float, float] = (0.0, 0.0)
                      ) -> list[Detection]:
    """Detections above the score threshold from the detector's outputs ``(2254, 12)`` and ``(2254,)`` (logits).

    ``letterbox`` = (scale, pad_x, pad_y): image pixel = (224-pixel - pad) / scale; ``offset``: where that image
    (a tile) sits in the frame."""
    scores = sigmoid(raw_scores)
    scale, pad_x, pad_y = letterbox
    shift = np.array([pad_x, pad_y]) - scale * np.asarray(offset)  # frame pixel = (224-pixel - shift) / scale
    found = []
    for i in np.flatnonzero(scores >= MIN_DETECTION_SCORE):
        centre = raw_boxes[i, :2] + anchors[i] * DETECTOR_SIZE  # 224-pixel coordinates
        half = raw_boxes[i, 2:4] / 2
        points = raw_boxes[i, 4:12].reshape(4, 2) + anchors[i] * DETECTOR_SIZE
        found.append(Detection(float(scores[i]), (np.concatenate([centre - half, centre + half]) - np.tile(shift, 2))
                               / scale, (points - shift) / scale))
    return found


def weighted_nms(detections: list[Detection]) -> list[Detection]:
    """Each cluster of overlapping detections becomes their score-weighted average (MediaPipe's WEIGHTED NMS)."""
    left = sorted(detections, key=lambda d: -d.score)
    merged: list[Detection] = []
    while left:
        best = left[0]
        cluster = [d for d in left if _iou(best.box, d.box) > NMS_IOU]
        left = [d for d in left if _iou(best.box, d.box) <= NMS_IOU]
        weights = np.array([d.score for d in cluster])
        box = np.einsum("n,nk->k", weights, np.stack([d.box for d in cluster])) / weights.sum()
        points = np.einsum("n,npk->pk", weights, np.stack([d.keypoints for d in cluster])) / weights.sum()
        merged.append(Detection(best.score, box, points))
    return merged


def tiles(height: int, width: int) -> list[tuple[int, int, int]]:
    """(x, y, side) of the whole frame's letterbox and of overlapping square tiles of 2/3 its shorter side."""
    side = int(min(height, width) * 2 / 3)
    out = [(0, 0, max(height, width))]
    for y in np.linspace(0, height - side, 2).astype(int):
        for x in np.linspace(0, width - side, 4).astype(int):
            out.append((int(x), int(y), side))
    return out


def letterbox(frame_rgb: np.ndarray, side: int) -> tuple[np.ndarray, tuple[float, float, float]]:
    """The frame scaled to fit ``side`` x ``side`` with zero borders, and (scale, pad_x, pad_y)."""
    height, width = frame_rgb.shape[:2]
    scale = side / max(height, width)
    resized = cv2.resize(frame_rgb, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    pad_x, pad_y = (side - resized.shape[1]) / 2, (side - resized.shape[0]) / 2
    canvas = np.zeros((side, side, 3), np.uint8)
    top, left = int(pad_y), int(pad_x)
    canvas[top:top + resized.shape[0], left:left + resized.shape[1]] = resized
    return canvas, (scale, float(left), float(top))


class MultiPersonPose:
    """Up to ``max_people`` people per frame with MediaPipe's bundled detector and landmark model (see above)."""

    layout = "mediapipe33"
    coords = 2

    def __init__(self, max_people: int = 4, detect_every: int = 5, min_visibility: float = MIN_VISIBILITY,
                 min_size: float = MIN_PERSON_SIZE, threads: int = 1) -> None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise SourceError("following several people needs the LiteRT interpreter: pip install ai-edge-litert") \
                from None
        modules = _modules()
        with quiet_native_logs():  # LiteRT announces its CPU delegate
            self._detector = Interpreter(model_path=str(modules / "pose_detection" / "pose_detection.tflite"),
                                         num_threads=threads)
            self._landmarker = Interpreter(model_path=str(modules / "pose_landmark" / "pose_landmark_full.tflite"),
                                           num_threads=threads)
            for interpreter in (self._detector, self._landmarker):
                interpreter.allocate_tensors()
        self._anchors = ssd_anchors()
        self.max_people = max_people
        self.detect_every = detect_every
        self.min_visibility = min_visibility
        self.min_size = min_size
        self._regions: list[Region] = []  # where last frame's people are expected now
        self._since_detection = 0  # frames since the detector last ran
        self._lost = True  # somebody followed was lost last frame (or nobody is followed yet)

    # --- the two networks ----------------------------------------------------------------------------------------

    def detect(self, frame_rgb: np.ndarray, tiled: bool = True) -> list[Detection]:
        """Everybody the detector finds in the frame (and, ``tiled``, in its tiles), merged."""
        height, width = frame_rgb.shape[:2]
        found = []
        for x, y, side in tiles(height, width) if tiled else [(0, 0, max(height, width))]:
            image, box = letterbox(frame_rgb[y:y + side, x:x + side], DETECTOR_SIZE)
            tensor = (image.astype(np.float32) / 127.5 - 1.0)[None]  # (1, 224, 224, 3) in [-1, 1]
            self._detector.set_tensor(self._detector.get_input_details()[0]["index"], tensor)
            self._detector.invoke()
            outputs = {d["name"]: self._detector.get_tensor(d["index"]) for d in self._detector.get_output_details()}
            found += decode_detections(outputs["Identity"][0], outputs["Identity_1"][0, :, 0], self._anchors, box,
                                       (x, y))
        return weighted_nms(found)

    def landmarks(self, frame_rgb: np.ndarray, region: Region) -> tuple[np.ndarray, np.ndarray, float]:
        """(39, 2) landmarks in frame pixels, (39,) visibility and the presence flag, for one region."""
        matrix = region.transform(LANDMARK_SIZE)
        crop = cv2.warpAffine(frame_rgb, matrix, (LANDMARK_SIZE, LANDMARK_SIZE), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT)
        self._landmarker.set_tensor(self._landmarker.get_input_details()[0]["index"],
                                    (crop.astype(np.float32) / 255.0)[None])
        self._landmarker.invoke()
        outputs = {d["name"]: self._landmarker.get_tensor(d["index"])
                   for d in self._landmarker.get_output_details()}
        raw = outputs["Identity"].reshape(NUM_LANDMARKS, 5)  # x, y, z, visibility, presence (logits) per landmark
        flag = float(outputs["Identity_1"].ravel()[0])
        back = cv2.invertAffineTransform(matrix)
        points = raw[:, :2] @ back[:, :2].T + back[:, 2]
        visibility = sigmoid(raw[:, 3])
        return points.astype(np.float32), visibility.astype(np.float32), flag

    # --- one frame ----------------------------------------------------------------------------------------------

    def __call__(self, frame: np.ndarray) -> list[Person]:
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        regions = list(self._regions)
        self._since_detection += 1
        if len(regions) < self.max_people and (self._lost or self._since_detection >= self.detect_every):
            self._since_detection = 0
            for detection in self.detect(rgb):
                if all(_iou(detection.box, r.box()) < 0.3 for r in regions):
                    regions.append(region_from_points(detection.keypoints[0], detection.keypoints[1]))
        found: list[tuple[float, Person, Region]] = []
        for region in regions:
            points, visibility, flag = self.landmarks(rgb, region)
            if flag < MIN_PRESENCE:
                continue
            scores = np.where(visibility[:33] >= self.min_visibility, visibility[:33], 0.0).astype(np.float32)
            person = Person(keypoints=points[:33], scores=scores, layout="mediapipe33")
            size = self.min_size * (KEEP_SIZE_FACTOR if region.shown else 1.0)
            follow = region_from_points(points[33], points[34])
            found.append((flag, person, dataclasses.replace(follow, shown=big_enough(person, frame.shape, size))))
        # Two regions that drifted onto the same body: keep the surer one.
        found.sort(key=lambda f: -f[0])
        kept: list[tuple[float, Person, Region]] = []
        for item in found:
            if all(_iou(item[2].box(), other[2].box()) < 0.5 for other in kept):
                kept.append(item)
        kept = kept[: self.max_people]
        self._lost = len(kept) < len(self._regions) or not kept
        self._regions = [region for _, _, region in kept]
        return [person for _, person, region in kept if region.shown]

    def close(self) -> None:
        self._regions, self._lost = [], True
