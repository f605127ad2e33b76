"""The saved scores of one evaluation (``scores.npz``), the input of score fusion.

Keys: ``scores`` (N, classes) float32 logits, ``labels`` (N,) int64, ``frame_dirs`` (N,) sample names,
``classes`` class names, ``stream``, ``split`` and ``checkpoint``; strings are stored as unicode arrays so the
file loads with ``allow_pickle=False``.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stfnet.atomic import atomic_open
from stfnet.errors import UserError


@dataclass
class Scores:
    scores: np.ndarray  # (N, classes)
    labels: np.ndarray  # (N,)
    frame_dirs: list[str]
    classes: list[str]
    stream: str
    split: str = ""
    checkpoint: str = ""


def save_scores(s: Scores, path: str | Path) -> None:
    with atomic_open(path) as f:
        np.savez(f, scores=s.scores.astype(np.float32), labels=s.labels.astype(np.int64),
                 frame_dirs=np.array(s.frame_dirs, dtype=str), classes=np.array(s.classes, dtype=str),
                 stream=np.array(s.stream), split=np.array(s.split), checkpoint=np.array(s.checkpoint))


def load_scores(path: str | Path) -> Scores:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"score file {path} does not exist (write one with `main.py eval`)")
    try:
        with np.load(path, allow_pickle=False) as z:
            return Scores(scores=z["scores"], labels=z["labels"], frame_dirs=[str(n) for n in z["frame_dirs"]],
                          classes=[str(n) for n in z["classes"]], stream=str(z["stream"]),
                          split=str(z["split"]) if "split" in z else "",
                          checkpoint=str(z["checkpoint"]) if "checkpoint" in z else "")
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise UserError(f"{path} is not a score file written by `main.py eval` ({type(exc).__name__}: {exc})") \
            from None
