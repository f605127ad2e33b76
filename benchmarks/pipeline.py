"""`bench pipeline`: what recognition costs on top of pose estimation, and how fresh its predictions are.

    python main.py bench pipeline VIDEO [--model NAME_OR_PATH] [--every-ms 200] [--live-every-ms 50] [--repeats 2]

Prints JSON with:

- ``pose_only_fps``: decoding + MediaPipe on every frame, as fast as the machine goes;
- ``pipeline_fps``: the replay pipeline (decoding + pose + tracking + windows + the model every ``--every-ms`` of
  video time), as fast as the machine goes; ``ratio`` = pipeline_fps / pose_only_fps. The two alternate
  ``--repeats`` times and the best run of each counts, so a busy machine disturbs both alike;
- ``latency_ms``: the live engine on the video paced to real time; for each frame captured after the first
  prediction, the time from its capture to the first prediction whose window includes it (p50, p95, max);
- ``cpu_ms_per_frame``: CPU time per frame of the process, and of the capture thread alone (decoding + pose +
  tracking + windows), in the best runs. Unlike wall time it hardly changes when other programs load the
  machine: the pipeline keeps up with pose alone when its capture thread costs about what pose alone costs and
  the model's share fits on another core.

Without ``--checkpoint`` and without the default model installed, the model has random weights in the live
configuration (openpose18, x/y/score, 64 frames, base width 64): the speed is the same as a trained one's.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from realtime.engine import Engine, EngineConfig
from realtime.pose import create_estimator
from realtime.recognizer import Prediction, Recognizer
from realtime.sources import VideoSource
from stfnet.checkpoint import Checkpoint, load_checkpoint, make_checkpoint
from stfnet.errors import CheckpointError
from stfnet.features import NormalizeConfig
from stfnet.model import STFNet, STFNetConfig
from stfnet.shipped import resolve_model


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", type=Path, help="video file to run on")
    parser.add_argument("--model", "--checkpoint", dest="model", metavar="NAME_OR_PATH",
                        help="shipped model name or checkpoint (default: the default model, else random weights)")
    parser.add_argument("--every-ms", type=float, default=200.0, help="replay: classify every N ms of video time")
    parser.add_argument("--live-every-ms", type=float, default=EngineConfig().every_ms,
                        help="live latency run: classify at most every N ms of wall-clock time")
    parser.add_argument("--repeats", type=int, default=2, help="alternating pose-only / pipeline runs")
    parser.add_argument("--max-people", type=int, default=1,
                        help="people to follow (several: MediaPipe's bundled networks run directly)")
    parser.add_argument("--device", default=None, help="model device (default: cuda when available, else cpu)")


def run(args: argparse.Namespace) -> int:
    checkpoint, description = _checkpoint(args.model)
    VideoSource(args.video).close()  # a missing or unreadable video fails here, in one sentence
    load = os.getloadavg()
    pose_runs: list[Timing] = []
    pipeline_runs: list[Timing] = []
    inference_ms: list[float] = []
    for _ in range(max(1, args.repeats)):
        timing, people = pose_only(args.video, args.max_people)
        pose_runs.append(timing)
        # A fresh recognizer per run: no smoothing state carried over.
        recognizer = Recognizer(checkpoint, device=args.device)
        timing, latencies = pipeline(args.video, recognizer, args.every_ms, args.max_people)
        pipeline_runs.append(timing)
        inference_ms += latencies
    latency = live_latency(args.video, Recognizer(checkpoint, device=args.device), args.live_every_ms,
                           args.max_people)
    best_pose = max(pose_runs, key=lambda r: r.fps)
    best_pipeline = max(pipeline_runs, key=lambda r: r.fps)
    report = {
        "video": str(args.video),
        "checkpoint": description,
        "device": str(recognizer.device),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average_at_start": [round(x, 2) for x in load],
        "every_ms_replay": args.every_ms,
        "every_ms_live": args.live_every_ms,
        "max_people": args.max_people,
        "people_per_frame": round(people, 2),
        "pose_only_fps": round(best_pose.fps, 2),
        "pipeline_fps": round(best_pipeline.fps, 2),
        "ratio": round(best_pipeline.fps / best_pose.fps, 3),
        "runs": {"pose_only_fps": [round(r.fps, 2) for r in pose_runs],
                 "pipeline_fps": [round(r.fps, 2) for r in pipeline_runs]},
        "cpu_ms_per_frame": {"pose_only": best_pose.cpu_ms_per_frame,
                             "pipeline": best_pipeline.cpu_ms_per_frame,
                             "pipeline_capture_thread": best_pipeline.thread_ms_per_frame},
        "inference_ms": _percentiles(inference_ms),
        "latency_ms": latency,
    }
    print(json.dumps(report, indent=2))
    return 0


@dataclass(frozen=True)
class Timing:
    frames: int
    wall: float  # seconds
    cpu: float  # seconds of CPU, whole process
    thread_cpu: float  # seconds of CPU, the capture thread

    @property
    def fps(self) -> float:
        return self.frames / self.wall

    @property
    def cpu_ms_per_frame(self) -> float:
        return round(self.cpu / self.frames * 1000, 2)

    @property
    def thread_ms_per_frame(self) -> float:
        return round(self.thread_cpu / self.frames * 1000, 2)


class _Clock:
    """Wall, process CPU and calling-thread CPU time since creation."""

    def __init__(self) -> None:
        self.wall, self.cpu, self.thread = time.perf_counter(), time.process_time(), time.thread_time()

    def stop(self, frames: int) -> Timing:
        return Timing(frames, time.perf_counter() - self.wall, time.process_time() - self.cpu,
                      time.thread_time() - self.thread)


def _checkpoint(name_or_path: str | None) -> tuple[Checkpoint, str]:
    if name_or_path is not None:
        path = resolve_model(name_or_path)
        return load_checkpoint(path), str(path)
    try:
        path = resolve_model(None)
        return load_checkpoint(path), str(path)
    except CheckpointError:
        pass
    labels = [f"class_{i}" for i in range(27)]
    model = STFNet(STFNetConfig(layout="openpose18", num_classes=len(labels), in_channels=3, base_channels=64))
    norm = NormalizeConfig(num_frames=64, num_persons=1, coords=2, use_score=True)
    return (make_checkpoint(model, labels, "joint", norm),
            "random weights (no default model installed): openpose18, x/y/score, 64 frames, base_channels=64")


def _percentiles(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0}
    arr = np.asarray(values)
    return {"p50": round(float(np.percentile(arr, 50)), 1), "p95": round(float(np.percentile(arr, 95)), 1),
            "max": round(float(arr.max()), 1), "count": len(values)}


def pose_only(video: Path, max_people: int = 1) -> tuple[Timing, float]:
    """Decode and run MediaPipe on every frame, nothing else; also the mean number of people found per frame."""
    estimator = create_estimator(None, max_people)
    try:
        with VideoSource(video) as source:
            clock, count, people = _Clock(), 0, 0
            for frame in source:
                people += len(estimator(frame.image))
                count += 1
            return clock.stop(count), people / max(count, 1)
    finally:
        estimator.close()


def pipeline(video: Path, recognizer: Recognizer, every_ms: float, max_people: int = 1
             ) -> tuple[Timing, list[float]]:
    """The replay pipeline, as fast as it goes; also the model latency of each prediction that ran the model."""
    predictions: list[Prediction] = []
    estimator = create_estimator(None, max_people)
    engine = Engine(recognizer, estimator, EngineConfig(mode="replay", every_ms=every_ms, max_people=max_people),
                    on_prediction=predictions.append)
    try:
        with engine, VideoSource(video) as source:
            clock, count = _Clock(), 0
            for frame in source:
                engine.submit_frame(frame)
                count += 1
            engine.flush()
            timing = clock.stop(count)
    finally:
        estimator.close()
    return timing, [p.latency_ms for p in predictions if p.state == "ok"]


def live_latency(video: Path, recognizer: Recognizer, every_ms: float, max_people: int = 1) -> dict[str, Any]:
    """Frame capture -> the first prediction that includes the frame, with the video paced to real time."""
    emitted: list[tuple[float, int]] = []  # (wall clock, newest frame index) of predictions that ran the model

    def record(prediction: Prediction) -> None:
        if prediction.state == "ok":
            emitted.append((time.monotonic(), prediction.frame_index))

    captured: dict[int, float] = {}
    estimator = create_estimator(None, max_people)
    engine = Engine(recognizer, estimator, EngineConfig(mode="live", every_ms=every_ms, max_people=max_people),
                    on_prediction=record)
    try:
        with engine, VideoSource(video, pace=True) as source:
            for frame in source:
                captured[frame.index] = frame.captured_at
                engine.submit_frame(frame)
            engine.flush(timeout=5.0)
            skipped = source.frames_read - len(captured)
    finally:
        estimator.close()
    latencies = []
    if emitted:
        indices = [index for _, index in emitted]
        for index, at in captured.items():
            if index <= indices[0]:
                continue  # captured before the engine had warmed up: its wait is the warm-up, not latency
            k = bisect.bisect_left(indices, index)
            if k < len(emitted):
                latencies.append((emitted[k][0] - at) * 1000)
    return {**_percentiles(latencies), "predictions": len(emitted), "frames_skipped_by_pacing": skipped}
