"""`python main.py ensemble SCORES1 SCORES2 ... [--weights W1 W2 ...]`: fuse the scores of several streams.

Each input is a ``scores.npz`` written by ``main.py eval``; they must cover the same samples in the same order
with the same classes. The fused score is the weighted sum of the raw scores (``stfnet.features.fuse_scores``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stfnet.atomic import write_text
from stfnet.errors import UserError
from stfnet.features import fuse_scores
from train.analysis.scores import Scores, load_scores
from train.loop import topk_accuracy


def check_aligned(files: list[str], runs: list[Scores]) -> None:
    """The score files must describe the same samples, in the same order, with the same classes."""
    first, ref = files[0], runs[0]
    for name, run in zip(files[1:], runs[1:], strict=True):
        if len(run.frame_dirs) != len(ref.frame_dirs):
            raise UserError(f"{name} covers {len(run.frame_dirs)} samples but {first} covers {len(ref.frame_dirs)}: "
                            "evaluate every stream on the same dataset split")
        if run.frame_dirs != ref.frame_dirs:
            i = next(i for i, (a, b) in enumerate(zip(run.frame_dirs, ref.frame_dirs, strict=True)) if a != b)
            what = "the same samples in another order" if sorted(run.frame_dirs) == sorted(ref.frame_dirs) \
                else "other samples"
            raise UserError(f"{name} holds {what} than {first} (sample {i + 1} is '{run.frame_dirs[i]}' there and "
                            f"'{ref.frame_dirs[i]}' here): evaluate every stream on the same dataset split")
        if run.classes != ref.classes:
            raise UserError(f"{name} and {first} were made by checkpoints with different class lists")
        if not np.array_equal(run.labels, ref.labels):
            raise UserError(f"{name} and {first} give the same samples different labels: were they evaluated on "
                            "different dataset files?")


def accuracy(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    s, y = torch.from_numpy(np.asarray(scores, np.float64)), torch.from_numpy(labels)
    return {"top1": topk_accuracy(s, y, 1), "top5": topk_accuracy(s, y, 5)}


def ensemble(files: list[str], weights: list[float] | None = None) -> dict[str, Any]:
    if len(files) < 2:
        raise UserError("give at least two score files to fuse")
    if weights is not None and len(weights) != len(files):
        raise UserError(f"{len(weights)} weights for {len(files)} score files: give one weight per file")
    runs = [load_scores(f) for f in files]
    check_aligned(files, runs)
    keys = [f"{i}:{run.stream}" for i, run in enumerate(runs)]  # two files of one stream stay apart
    weight_of = dict(zip(keys, weights or [1.0] * len(files), strict=True))
    fused = fuse_scores({k: run.scores for k, run in zip(keys, runs, strict=True)}, weight_of)
    labels = runs[0].labels
    return {
        "inputs": [{"file": f, "stream": run.stream, "weight": weight_of[k], **accuracy(run.scores, labels)}
                   for f, k, run in zip(files, keys, runs, strict=True)],
        "num_samples": int(len(labels)),
        **accuracy(fused, labels),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scores", nargs="+", help="scores.npz files written by `main.py eval`")
    parser.add_argument("--weights", type=float, nargs="+", help="one weight per file (default: all 1)")
    parser.add_argument("--out", help="write the fused result to this JSON file")


def run(args: argparse.Namespace) -> int:
    result = ensemble(args.scores, args.weights)
    for item in result["inputs"]:
        print(f"{item['stream']:>12}  x{item['weight']:g}  top-1 {item['top1']:.4f}  top-5 {item['top5']:.4f}  "
              f"{item['file']}")
    print(f"{'fused':>12}       top-1 {result['top1']:.4f}  top-5 {result['top5']:.4f}  "
          f"({result['num_samples']} samples)")
    if args.out:
        write_text(Path(args.out), json.dumps(result, indent=1))
    return 0
