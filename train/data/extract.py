"""`python main.py extract ROOT OUTPUT`: a dataset from labelled videos, with the live pose estimator.

``ROOT/<class name>/*.mp4|avi|mov|mkv``: every subfolder is a class (labels in sorted name order). Or ROOT is a
CSV file with the columns ``video,label,start_s,end_s`` (video paths relative to the CSV's folder): every row is
a sample, the span of a video between two times, so one long recording becomes many labelled samples without a
video editor (labels in sorted order; each video is run through the pose estimator once). Every frame of
every video goes through the same pose estimator and remap as live input (``realtime.pose``), in parallel worker
processes (``--workers``), one video per task. Each video's keypoints are written atomically to
``OUTPUT.parts/<class>/<video file>.npz`` as soon as it is done, so an interrupted run picks up where it stopped;
a part made from another version of the video or with other settings is redone. The output gets a random
stratified ``train`` / ``val`` split (``--val-fraction``, ``--seed``) and an ``all`` split. Every sample keeps its
video's own frame rate (``fps``), so clips recorded at different rates are timed right.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import itertools
import multiprocessing
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from stfnet.atomic import atomic_open
from stfnet.errors import UserError
from stfnet.layouts import get_layout
from stfnet.progress import progress
from train.data.format import SampleError, make_annotation, save_dataset, stratified_split

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv")
PART_VERSION = 1  # bump when the part file's content changes meaning
PARENT_CHECK_SECONDS = 0.5  # how often a worker checks that the extracting process still runs


@dataclass(frozen=True)
class ExtractConfig:
    root: str  # folder with one subfolder of videos per class
    output: str  # dataset file to write
    layout: str = "openpose18"  # layout the keypoints are remapped to (the live model's)
    workers: int = 2  # pose-estimation processes; 0 runs in this process
    val_fraction: float = 0.2  # share of each class in the val split
    seed: int = 0  # seed of the random split
    max_people: int = 1  # persons kept per frame (the highest-scoring)
    pose_model: str | None = None  # MediaPipe Tasks .task file for several people; None: the bundled model
    on_error: str = "skip"  # a video that cannot be read or shows nobody: skip it, or stop
    clean: bool = False  # delete the per-video parts after the dataset is written
    fps: float | None = None  # frame rate of every video, for files that report a wrong one; None: each file's


@dataclass(frozen=True)
class Video:
    path: Path
    label: int
    part: Path  # where its keypoints are cached

    @property
    def name(self) -> str:  # the sample's frame_dir: unique over the dataset
        return f"{self.part.parent.name}/{self.path.name}"


@dataclass(frozen=True)
class Span:
    """One sample of a CSV listing: a label for a video between two times."""

    video: Path
    label: str
    start: float  # seconds
    end: float


def read_spans(listing: Path) -> list[Span]:
    """The rows of a ``video,label,start_s,end_s`` CSV file, checked; video paths relative to its folder."""
    if not listing.is_file():
        raise UserError(f"span list {listing} does not exist")
    spans = []
    with open(listing, newline="", encoding="utf-8", errors="replace") as f:
        reader = csv.DictReader(f)
        missing = {"video", "label", "start_s", "end_s"} - set(reader.fieldnames or [])
        if missing:
            raise UserError(f"{listing} lacks the column(s) {', '.join(sorted(missing))} (video,label,start_s,end_s)")
        for line, row in enumerate(reader, start=2):
            try:
                start, end = float(row["start_s"]), float(row["end_s"])
            except (TypeError, ValueError):
                raise UserError(f"{listing}, line {line}: start_s and end_s must be numbers of seconds") from None
            if not 0 <= start < end:
                raise UserError(f"{listing}, line {line}: the span {start}-{end} s is empty")
            video = (listing.parent / row["video"].strip()).resolve()
            if not video.is_file():
                raise UserError(f"{listing}, line {line}: video {video} does not exist")
            if not row["label"].strip():
                raise UserError(f"{listing}, line {line}: the label is empty")
            spans.append(Span(video, row["label"].strip(), start, end))
    if not spans:
        raise UserError(f"{listing} lists no spans")
    return spans


def span_videos(spans: list[Span], parts: Path) -> list[Video]:
    """Each video the spans name, once, with a part file named after its path (two files may share a name)."""
    videos = dict.fromkeys(s.video for s in spans)
    return [Video(v, -1, parts / "videos" / f"{v.name}.{hashlib.sha1(str(v).encode()).hexdigest()[:8]}.npz")
            for v in videos]


def parts_folder(output: str | Path) -> Path:
    return Path(f"{output}.parts")


def find_videos(root: Path, parts: Path) -> tuple[list[str], list[Video]]:
    """Class names and every video under ``root/<class>/``, in a stable order."""
    if not root.is_dir():
        raise UserError(f"video folder {root} does not exist")
    classes, videos = [], []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)
        if files:
            videos += [Video(f, len(classes), parts / folder.name / f"{f.name}.npz") for f in files]
            classes.append(folder.name)
    if not videos:
        raise UserError(f"no videos ({', '.join(VIDEO_EXTENSIONS)}) in class subfolders of {root}: expected "
                        f"{root}/<class name>/<video>")
    return classes, videos


def _stamp(video: Path, settings: str) -> str:
    """What a part was made from: the video's size and modification time and the extraction settings."""
    stat = video.stat()
    return f"v{PART_VERSION}|{stat.st_size}|{stat.st_mtime_ns}|{settings}"


def part_is_done(video: Video, settings: str) -> bool:
    if not video.part.is_file():
        return False
    try:
        with np.load(video.part, allow_pickle=False) as z:
            return str(z["stamp"]) == _stamp(video.path, settings)
    except (OSError, ValueError, KeyError):
        return False  # an unreadable part is redone


def extract_video(video: Video, layout_name: str, max_people: int, settings: str,
                  estimator_factory: Callable[[], Any], fps: float | None = None) -> str:
    """Run the pose estimator over every frame of one video and write its part file. Runs in a worker."""
    # imported here: realtime brings OpenCV and MediaPipe, which only the workers need
    from realtime.pose import to_layout
    from realtime.sources import VideoSource
    from stfnet.errors import SourceError

    layout = get_layout(layout_name)
    frames_kp, frames_sc = [], []
    estimator = estimator_factory()
    try:
        with VideoSource(video.path, fps=fps) as source:
            size = (source.height, source.width)
            fps = source.fps
            for frame in source:
                people = sorted(estimator(frame.image), key=lambda p: -float(np.sum(p.scores)))[:max_people]
                kp = np.zeros((max_people, layout.num_joints, estimator.coords), np.float32)  # (M, V, C)
                sc = np.zeros((max_people, layout.num_joints), np.float32)  # (M, V)
                for m, person in enumerate(people):
                    kp[m], sc[m] = to_layout(person, layout)
                frames_kp.append(kp)
                frames_sc.append(sc)
    except SourceError as exc:
        raise SampleError(str(exc)) from None
    finally:
        estimator.close()
    keypoint = np.stack(frames_kp, axis=1)  # (M, T, V, C)
    score = np.stack(frames_sc, axis=1)  # (M, T, V)
    if not score.any():
        raise SampleError(f"{video.name}: the pose estimator found nobody in any of its {score.shape[1]} frames")
    with atomic_open(video.part) as f:
        np.savez(f, keypoint=keypoint, keypoint_score=score, img_shape=np.array(size), fps=np.array(fps),
                 stamp=np.array(_stamp(video.path, settings)))
    return video.name


def exit_with_parent(parent: int) -> None:
    """Runs in each worker process: ends it as soon as its parent is gone. A parent killed outright (kill -9)
    cannot tell its workers, which would otherwise wait for tasks forever, holding their memory."""

    def watch() -> None:
        while os.getppid() == parent:  # an orphan is adopted by another process
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)  # nothing of this worker is worth finishing: its part files are written atomically

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _run_all(todo: list[Video], cfg: ExtractConfig, settings: str, factory: Callable[[], Any]) -> list[str]:
    """Extract every video of ``todo``; returns the error messages of the videos skipped."""
    job = partial(extract_video, layout_name=cfg.layout, max_people=cfg.max_people, settings=settings,
                  estimator_factory=factory, fps=cfg.fps)
    skipped: list[str] = []
    bar = progress(total=len(todo), desc="pose extraction", unit="video")

    def done(error: SampleError | None) -> None:
        bar.update()
        if error is None:
            return
        if cfg.on_error == "stop":
            raise UserError(f"{error} (use --on-error skip to leave such videos out; finished videos are kept "
                            "and a rerun continues from them)")
        skipped.append(str(error))
        tqdm.write(f"skipped: {error}", file=sys.stderr)

    try:
        if cfg.workers == 0:
            for video in todo:
                try:
                    job(video)
                    done(None)
                except SampleError as exc:
                    done(exc)
        else:
            # one video in flight per worker, none queued: a stop or Ctrl-C leaves nothing behind to finish.
            # Spawned, not forked: a fork of a process whose MediaPipe or torch threads are running can crash.
            pool = ProcessPoolExecutor(max_workers=cfg.workers, mp_context=multiprocessing.get_context("spawn"),
                                       initializer=exit_with_parent, initargs=(os.getpid(),))
            waiting, pending = iter(todo), set()
            interrupted = False
            try:
                while True:
                    for video in itertools.islice(waiting, cfg.workers - len(pending)):
                        pending.add(pool.submit(job, video))
                    if not pending:
                        break
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        error = future.exception()
                        if error is not None and not isinstance(error, SampleError):
                            raise error
                        done(error)
            except KeyboardInterrupt:
                interrupted = True
                # Ctrl-C reaches the workers too, SIGTERM only this process: end them, or the pool would wait
                # for their videos. Python 3.14 has pool.terminate_workers(); before it, only this attribute.
                for process in list(getattr(pool, "_processes", {}).values()):
                    process.terminate()
                raise
            finally:  # on a stop, videos under way finish and keep their parts; on Ctrl-C they are dropped
                pool.shutdown(wait=not interrupted, cancel_futures=True)
    finally:
        bar.close()
    return skipped


def extract_dataset(cfg: ExtractConfig, estimator_factory: Callable[[], Any] | None = None) -> dict[str, Any]:
    """Extract (or resume), then write the dataset file; returns the dataset."""
    layout = get_layout(cfg.layout)
    if cfg.workers < 0 or cfg.max_people < 1:
        raise UserError("--workers must be 0 or more and --max-people 1 or more")
    if cfg.fps is not None and not 0 < cfg.fps <= 1000:
        raise UserError(f"--fps {cfg.fps} is not a frame rate: give a number above 0 and up to 1000")
    if estimator_factory is None:
        from realtime.pose import create_estimator, feedable_layouts

        if layout.name not in feedable_layouts("mediapipe33"):
            raise UserError(f"MediaPipe keypoints cannot be remapped to layout '{layout.name}': use one of "
                            f"{', '.join(feedable_layouts('mediapipe33'))}")
        estimator_factory = partial(create_estimator, cfg.pose_model, cfg.max_people)
    parts = parts_folder(cfg.output)
    spans = read_spans(Path(cfg.root)) if Path(cfg.root).suffix.lower() == ".csv" else None
    if spans is None:
        classes, videos = find_videos(Path(cfg.root), parts)
    else:
        classes, videos = sorted({s.label for s in spans}), span_videos(spans, parts)
    settings = f"{layout.name}|{cfg.max_people}|{cfg.pose_model or 'bundled'}" + (f"|{cfg.fps}" if cfg.fps else "")
    todo = [v for v in videos if not part_is_done(v, settings)]
    if len(todo) < len(videos):
        print(f"resuming: {len(videos) - len(todo)} of {len(videos)} videos already extracted in {parts}",
              file=sys.stderr)
    skipped = _run_all(todo, cfg, settings, estimator_factory)
    annotations = []
    for video in videos:
        if video.part.is_file() and part_is_done(video, settings):
            with np.load(video.part, allow_pickle=False) as z:
                keypoint, score, fps = z["keypoint"], z["keypoint_score"], float(z["fps"])
                shape = tuple(int(s) for s in z["img_shape"])
            if spans is None:
                annotations.append(_annotation(video.name, video.label, keypoint, score, shape, fps))
                continue
            for span in (s for s in spans if s.video == video.path):
                first, last = round(span.start * fps), min(round(span.end * fps), keypoint.shape[1])
                if last - first < 2 or not score[:, first:last].any():
                    skipped.append(f"{video.path.name} {span.start}-{span.end} s: no skeleton in that span")
                    continue
                name = f"{video.path.name}@{span.start:g}-{span.end:g}s"
                annotations.append(_annotation(name, classes.index(span.label), keypoint[:, first:last],
                                               score[:, first:last], shape, fps))
    if skipped:
        print(f"{len(skipped)} of {len(videos)} videos skipped", file=sys.stderr)
    if not annotations:
        raise UserError(f"no video in {cfg.root} gave a skeleton")
    data = {"split": {**stratified_split(annotations, cfg.val_fraction, cfg.seed),
                      "all": [a["frame_dir"] for a in annotations]},
            "annotations": annotations, "classes": classes, "layout": layout.name,
            "fps": float(np.median([a["fps"] for a in annotations]))}  # for tools that read one rate; each
    # sample's own "fps" is the one training uses
    save_dataset(data, cfg.output)
    if cfg.clean:
        shutil.rmtree(parts)
    return data


def _annotation(name: str, label: int, keypoint: np.ndarray, score: np.ndarray, img_shape: tuple[int, ...],
                fps: float) -> dict[str, Any]:
    ann = make_annotation(name, label, keypoint, score, img_shape=img_shape)
    ann["fps"] = fps
    return ann


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = ExtractConfig(root="", output="")
    parser.add_argument("root", help="folder with one subfolder of videos per class (ROOT/<class name>/<video>), "
                                     "or a CSV file of video,label,start_s,end_s spans")
    parser.add_argument("output", help="dataset file to write (.npz, or .pkl for pyskl); per-video results go to "
                                       "OUTPUT.parts/")
    parser.add_argument("--layout", default=d.layout, help="layout to remap the keypoints to (default: openpose18)")
    parser.add_argument("--workers", type=int, default=d.workers,
                        help="pose-estimation processes (default: 2; 0 runs in this process)")
    parser.add_argument("--val-fraction", type=float, default=d.val_fraction, help="share of each class in val")
    parser.add_argument("--seed", type=int, default=d.seed, help="seed of the random train/val split")
    parser.add_argument("--max-people", type=int, default=d.max_people,
                        help="persons kept per frame (several: MediaPipe's bundled networks, or --pose-model)")
    parser.add_argument("--pose-model", help="a MediaPipe Tasks pose_landmarker .task file (several people)")
    parser.add_argument("--on-error", default=d.on_error, choices=("skip", "stop"),
                        help="a video that cannot be read or shows nobody: skip it and say so (default), or stop")
    parser.add_argument("--clean", action="store_true", help="delete OUTPUT.parts/ once the dataset is written")
    parser.add_argument("--fps", type=float, default=None,
                        help="frame rate of the videos, for files that report a wrong one (default: each file's)")


def run(args: argparse.Namespace) -> int:
    cfg = ExtractConfig(root=args.root, output=args.output, layout=args.layout, workers=args.workers,
                        val_fraction=args.val_fraction, seed=args.seed, max_people=args.max_people,
                        pose_model=args.pose_model, on_error=args.on_error, clean=args.clean, fps=args.fps)
    data = extract_dataset(cfg)
    sizes = ", ".join(f"{name} {len(names)}" for name, names in data["split"].items())
    print(f"wrote {len(data['annotations'])} samples of {len(data['classes'])} classes to {args.output} ({sizes})")
    return 0
