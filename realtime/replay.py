"""`python main.py replay VIDEO`: recognise actions headless; write a timeline and, optionally, an annotated video.

    python main.py replay VIDEO [--model NAME_OR_PATH] --out timeline.json [--csv timeline.csv]
                         [--annotated out.mp4] [--every-ms 200] [--top-k 5]

VIDEO is a video file, a folder of OpenPose JSON frames, a dataset ``.pkl`` (with ``--sample``) or a camera index
(with ``--duration``). Every ``--every-ms`` of video time the window ending at the current frame is classified
(``engine.Engine`` in replay mode), so the timeline is the same on any machine. The timeline JSON::

    {"source": ..., "checkpoint": ..., "labels": [...], "every_ms": 200, "fps": 29.97, "frames": 300,
     "predictions": [{"time": 0.2, "frame_index": 6, "state": "ok", "label": "wave", "person_id": 0,
                      "window": [-1.93, 0.2], "top_k": [{"label": "wave", "probability": 0.81}, ...]}, ...]}

``state`` is "ok", "uncertain" (the calibrated probability is below ``--min-confidence``), "no_person" or
"warming_up"; ``label`` is the label shown (stable: a new label must lead for a moment before it replaces the
old one), null unless "ok"; ``top_k`` holds the probabilities the model gave, also when "uncertain". These
describe the main person; ``people`` lists everyone tracked (``--max-people``) with the same fields. The CSV
has one row per prediction and person: time, frame_index, person_id, state, label, label_1, probability_1,
..., label_k, probability_k. All outputs are written to
temporary files and renamed at the end: an error or Ctrl-C leaves nothing half-written.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import queue
from collections import deque
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from realtime.annotate import AnnotatedVideo, draw
from realtime.decision import DEFAULT_MIN_CONFIDENCE
from realtime.engine import Engine, EngineConfig, PoseResult
from realtime.pose import PoseEstimator, create_estimator
from realtime.recognizer import Prediction, Recognizer, without_maps
from realtime.sources import Frame, Source, open_source
from stfnet.atomic import write_text
from stfnet.errors import UserError
from stfnet.progress import progress as show_progress
from stfnet.shipped import resolve_model

MAX_PENDING_FRAMES = 64  # annotated frames held back while their label is computed, before waiting for the model


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", metavar="VIDEO",
                        help="video file, folder of OpenPose JSON, dataset .pkl, or camera index")
    parser.add_argument("--model", "--checkpoint", dest="model", metavar="NAME_OR_PATH",
                        help="shipped model name or checkpoint file (default: the default model)")
    parser.add_argument("--out", type=Path, required=True, help="timeline JSON to write")
    parser.add_argument("--csv", type=Path, default=None, help="also write the timeline as CSV")
    parser.add_argument("--annotated", type=Path, default=None, help="write the video with skeleton and label (.mp4)")
    parser.add_argument("--every-ms", type=float, default=200.0, help="classify every N ms of video time")
    parser.add_argument("--top-k", type=int, default=5, help="labels per prediction in the timeline")
    parser.add_argument("--smoothing", type=float, default=0.5,
                        help="half-life in seconds of the moving average of probabilities (0: none)")
    parser.add_argument("--min-confidence", type=float, default=None,
                        help="calibrated probability below which a prediction is 'uncertain' (default: the "
                             f"model's own, else {DEFAULT_MIN_CONFIDENCE}; 0: never uncertain)")
    parser.add_argument("--pose-model", type=Path, default=None,
                        help="MediaPipe Tasks pose_landmarker .task file, for several people")
    parser.add_argument("--max-people", type=int, default=1, help="people to track and classify")
    parser.add_argument("--sample", default=None, help="dataset .pkl input: the frame_dir of the sample to play")
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds (cameras)")
    parser.add_argument("--fps", type=float, default=None,
                        help="frame rate of the input, for files that report none or a wrong one (default: the "
                             "file's, or 30)")
    parser.add_argument("--device", default=None, help="model device (default: cuda when available, else cpu)")


def run(args: argparse.Namespace) -> int:
    if args.every_ms <= 0 or args.top_k < 1 or args.max_people < 1:
        raise UserError("--every-ms must be positive, and --top-k and --max-people at least 1")
    checkpoint = resolve_model(args.model)
    if args.min_confidence is not None and not 0 <= args.min_confidence <= 1:
        raise UserError("--min-confidence must be between 0 and 1")
    recognizer = Recognizer.from_file(checkpoint, device=args.device, top_k=args.top_k,
                                      smoothing_half_life=args.smoothing, min_confidence=args.min_confidence)
    with ExitStack() as stack:
        source = stack.enter_context(open_source(args.video, sample=args.sample, fps=args.fps))
        if source.live and args.duration is None:
            raise UserError(f"replaying camera {args.video} needs --duration SECONDS")
        estimator = None
        if source.has_images:
            estimator = create_estimator(args.pose_model, args.max_people)
            stack.callback(estimator.close)
        elif args.annotated is not None:
            raise UserError(f"{args.video} holds keypoints, not images: there is nothing to annotate")
        annotator = None
        if args.annotated is not None:
            annotator = _Annotator(lambda size: stack.enter_context(
                AnnotatedVideo(args.annotated, source.fps or 30.0, size)), recognizer)
        config = EngineConfig(mode="replay", every_ms=args.every_ms, max_people=args.max_people)
        timeline, frames = replay_source(source, recognizer, estimator, config, args.duration, annotator)
        document = _timeline(args, checkpoint, source, recognizer, timeline, frames)
        # Everything is computed before the first file is written; each one appears whole or not at all.
        write_text(args.out, json.dumps(document, indent=1))
        if args.csv is not None:
            write_text(args.csv, timeline_csv(timeline, args.top_k))
        written = [f"{args.out} (timeline, {len(timeline)} predictions for {frames} frames)"]
        if args.csv is not None:
            written.append(f"{args.csv} (timeline as CSV)")
        if annotator is not None and annotator.video is not None:
            annotator.video.commit()
            written.append(f"{args.annotated} (annotated video, {annotator.video.codec})")
    print("wrote " + ", ".join(written))
    return 0


def replay_source(source: Source, recognizer: Recognizer, estimator: PoseEstimator | None, config: EngineConfig,
                  duration: float | None = None, annotator: _Annotator | None = None,
                  progress: bool | None = None) -> tuple[list[Prediction], int]:
    """Every prediction of ``source`` (without their attention maps, so memory stays flat on long videos)
    and the number of frames read. ``progress``: a bar on a terminal, else a line every 30 s (None), always a
    bar (True) or nothing (False)."""
    predictions: queue.SimpleQueue[Prediction] = queue.SimpleQueue()
    timeline: list[Prediction] = []

    def drain() -> None:
        while not predictions.empty():
            prediction = predictions.get_nowait()
            timeline.append(without_maps(prediction))
            if annotator is not None:
                annotator.arrived(prediction)

    frames = 0
    with Engine(recognizer, estimator, config, on_prediction=predictions.put) as engine:
        bar = show_progress(source, total=source.frame_count, unit="frame", desc="replay", enabled=progress)
        for frame in bar:
            if duration is not None and frame.timestamp > duration:
                break
            result = engine.submit_frame(frame)
            frames += 1
            if annotator is not None:
                annotator.add(frame, result)
                if len(annotator.pending) > MAX_PENDING_FRAMES:
                    engine.flush()  # the model is far behind: wait, so the held-back frames stay bounded
            drain()
        engine.flush()
        drain()
    if annotator is not None:
        annotator.finish()
    return timeline, frames


class _Annotator:
    """Draws each frame with the newest prediction at or before it, the same on any machine.

    The model runs behind the frames, so frames wait in ``pending`` until a prediction at or after them has
    arrived (predictions arrive in order, so then every one at or before them has too).
    """

    def __init__(self, open_video: Callable[[tuple[int, int]], AnnotatedVideo], recognizer: Recognizer) -> None:
        self.open_video = open_video  # called with (width, height) of the first frame
        self.video: AnnotatedVideo | None = None
        self.layout = recognizer.layout
        self.pending: deque[tuple[Frame, PoseResult]] = deque()
        self.arrived_predictions: deque[Prediction] = deque()
        self.current: Prediction | None = None

    def add(self, frame: Frame, result: PoseResult) -> None:
        if self.video is None:
            height, width = frame.image.shape[:2]
            self.video = self.open_video((width, height))
        self.pending.append((frame, result))
        self._write_ready()

    def arrived(self, prediction: Prediction) -> None:
        self.arrived_predictions.append(prediction)
        self._write_ready()

    def _write_ready(self, everything: bool = False) -> None:
        newest = self.arrived_predictions[-1].frame_index if self.arrived_predictions else -1
        while self.pending and (everything or self.pending[0][0].index <= newest):
            frame, result = self.pending.popleft()
            while self.arrived_predictions and self.arrived_predictions[0].frame_index <= frame.index:
                self.current = self.arrived_predictions.popleft()
            self.video.write(draw(frame.image, result.people, self.layout, self.current))

    def finish(self) -> None:
        self._write_ready(everything=True)


def _top_k(top_k: tuple[tuple[str, float], ...]) -> list[dict[str, Any]]:
    return [{"label": label, "probability": round(prob, 5)} for label, prob in top_k]


def prediction_record(p: Prediction) -> dict[str, Any]:
    """The main person's prediction at the top level; ``people``: everyone tracked, main person first."""
    return {
        "time": round(p.timestamp, 4),
        "frame_index": p.frame_index,
        "state": p.state,
        "label": p.label,
        "person_id": p.person_id,
        "window": [round(p.window_span[0], 4), round(p.window_span[1], 4)],
        "top_k": _top_k(p.top_k),
        "people": [{"person_id": q.person_id, "state": q.state, "label": q.label, "top_k": _top_k(q.top_k)}
                   for q in p.people],
    }


def _timeline(args: argparse.Namespace, checkpoint: Path, source: Any, recognizer: Recognizer,
              timeline: list[Prediction], frames: int) -> dict[str, Any]:
    return {
        "source": str(args.video),
        "checkpoint": str(checkpoint),
        "labels": list(recognizer.labels),
        "every_ms": args.every_ms,
        "fps": source.fps,
        "frames": frames,
        "window_seconds": recognizer.window_seconds,
        "predictions": [prediction_record(p) for p in timeline],
    }


def timeline_csv(timeline: list[Prediction], top_k: int) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    header = ["time", "frame_index", "person_id", "state", "label"]
    for k in range(1, top_k + 1):
        header += [f"label_{k}", f"probability_{k}"]
    writer.writerow(header)
    for p in timeline:
        # One row per tracked person (main person first); one row without a person when nobody is there.
        people = p.people or (None,)
        for q in people:
            person = "" if q is None else q.person_id
            state, label, ranked = (p.state, p.label, p.top_k) if q is None else (q.state, q.label, q.top_k)
            row: list[Any] = [round(p.timestamp, 4), p.frame_index, person, state, label or ""]
            for name, prob in ranked:
                row += [name, round(prob, 5)]
            writer.writerow(row + [""] * (len(header) - len(row)))
    return out.getvalue()
