"""`bench videos DIR`: a model on real footage, replayed through the app, clip by clip.

    python main.py bench videos DIR [--model NAME_OR_PATH] [--every-ms 200] [--out report.json]

``DIR/labels.csv`` names each clip and what happens in it (columns ``file``, ``label``, ``start_s``, ``end_s``;
others are kept). Every clip is replayed exactly as `main.py replay` does (MediaPipe, tracker, sliding window,
calibrated probabilities, the label decision), and the predictions whose time falls within ``[start_s, end_s]``
are counted: the clip's answer is the majority of the labels shown (state ``ok``) there; a clip where nothing
was shown has no answer and counts as wrong. Each clip's line gives the share of each state seen (``ok``,
``uncertain``, ``no_person``, ``warming_up``), its top labels and the share of its windows that showed the right
label; the summary gives clip-level accuracy and that share averaged over the clips.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from realtime.engine import EngineConfig
from realtime.pose import create_estimator
from realtime.recognizer import STATES, Prediction, Recognizer
from realtime.replay import replay_source
from realtime.sources import VideoSource
from stfnet.atomic import write_text
from stfnet.errors import UserError
from stfnet.shipped import resolve_model

REQUIRED_COLUMNS = ("file", "label", "start_s", "end_s")


@dataclass(frozen=True)
class Clip:
    file: Path
    label: str
    start: float  # seconds in the file where the action starts
    end: float


def read_clips(folder: Path) -> list[Clip]:
    """The clips listed in ``folder/labels.csv``, checked."""
    listing = folder / "labels.csv"
    if not listing.is_file():
        raise UserError(f"{folder} has no labels.csv (columns {', '.join(REQUIRED_COLUMNS)})")
    with open(listing, newline="", encoding="utf-8", errors="replace") as f:
        reader = csv.DictReader(f)
        missing = set(REQUIRED_COLUMNS) - set(reader.fieldnames or [])
        if missing:
            raise UserError(f"{listing} lacks the column(s) {', '.join(sorted(missing))}")
        clips = []
        for line, row in enumerate(reader, start=2):
            try:
                start, end = float(row["start_s"]), float(row["end_s"])
            except ValueError:
                raise UserError(f"{listing}, line {line}: start_s and end_s must be numbers") from None
            if not end > start >= 0:
                raise UserError(f"{listing}, line {line}: the span {start}-{end} s is empty")
            clips.append(Clip(folder / row["file"], row["label"], start, end))
    if not clips:
        raise UserError(f"{listing} lists no clips")
    return clips


def score_clip(clip: Clip, predictions: list[Prediction]) -> dict[str, Any]:
    """What the app said during the clip's span: state shares, label counts, the majority label."""
    inside = [p for p in predictions if clip.start <= p.timestamp <= clip.end]
    states = Counter(p.state for p in inside)
    labels = Counter(p.label for p in inside if p.state == "ok")
    answer = labels.most_common(1)[0][0] if labels else None
    return {
        "file": clip.file.name,
        "label": clip.label,
        "answer": answer,
        "right": answer == clip.label,
        "predictions": len(inside),
        "right_share": round(labels[clip.label] / max(1, len(inside)), 3),  # of the span's windows, all states
        "states": {s: round(states[s] / max(1, len(inside)), 3) for s in STATES},
        "labels": {name: count for name, count in labels.most_common(5)},
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=Path, metavar="DIR", help="folder of clips with a labels.csv")
    parser.add_argument("--model", "--checkpoint", dest="model", metavar="NAME_OR_PATH",
                        help="shipped model name or checkpoint file (default: the default model)")
    parser.add_argument("--every-ms", type=float, default=200.0, help="classify every N ms of video time")
    parser.add_argument("--min-confidence", type=float, default=None,
                        help="threshold for 'uncertain' (default: the model's own)")
    parser.add_argument("--out", type=Path, default=None, help="also write the report as JSON")


def run(args: argparse.Namespace) -> int:
    clips = read_clips(args.folder)
    checkpoint = resolve_model(args.model)
    for clip in clips:  # every clip must open before the first one is replayed
        VideoSource(clip.file).close()
    results = []
    for clip in clips:
        recognizer = Recognizer.from_file(checkpoint, min_confidence=args.min_confidence)  # fresh state per clip
        estimator = create_estimator()
        try:
            with VideoSource(clip.file) as source:
                config = EngineConfig(mode="replay", every_ms=args.every_ms)
                predictions, _ = replay_source(source, recognizer, estimator, config, progress=False)
        finally:
            estimator.close()
        result = score_clip(clip, predictions)
        results.append(result)
        states = " ".join(f"{s} {v:.0%}" for s, v in result["states"].items() if v)
        print(f"{'right' if result['right'] else 'WRONG':5}  {clip.file.name:28} {clip.label:16} -> "
              f"{result['answer'] or '(nothing)':16} right {result['right_share']:.0%}  {states}", file=sys.stderr,
              flush=True)
    right = sum(r["right"] for r in results)
    report = {"folder": str(args.folder), "model": str(checkpoint), "every_ms": args.every_ms,
              "min_confidence": recognizer.min_confidence, "clips": len(results), "right": right,
              "accuracy": round(right / len(results), 4),
              "right_share_mean": round(sum(r["right_share"] for r in results) / len(results), 4),
              "results": results}
    if args.out is not None:
        write_text(args.out, json.dumps(report, indent=1))
    print(json.dumps({k: v for k, v in report.items() if k != "results"}))
    return 0
