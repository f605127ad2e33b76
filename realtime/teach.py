"""Your own actions: recorded skeleton samples kept as a dataset in a per-user folder, one folder per custom model.

    session = TeachSession.open("my-actions", layout)     # ~/.local/share/stfnet-live/models/my-actions/
    name = session.add("wave", keypoints, scores, fps)    # (T, V, C), (T, V); written to disk before it returns
    session.rename(name, "wave_hello"); session.delete(name)
    session.samples()                                     # [SampleInfo(name, label, frames, seconds)]
    session.dataset_path, session.model_path              # what `main.py train` reads, what it produced

The dataset is the one format every command reads (``dataset.npz``: a single ``train`` split; every sample keeps
its own frame rate), rewritten atomically after every change, so closing or killing the app never loses a
saved sample and never leaves half a file. Samples are in the layout of the model they were recorded for; a
folder refuses samples of another layout.

The user folder is ``$STFNET_LIVE_HOME`` when set, else ``$XDG_DATA_HOME/stfnet-live`` (``~/.local/share`` on
Linux), ``~/Library/Application Support/stfnet-live`` on macOS, ``%APPDATA%/stfnet-live`` on Windows.
"""

from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stfnet.errors import UserError
from stfnet.layouts import Layout
from train.data.format import load_dataset, make_annotation, save_dataset

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # model and action names: safe as file names


def user_data_dir() -> Path:
    """The per-user folder for recordings and custom models (never inside the repository)."""
    if os.environ.get("STFNET_LIVE_HOME"):
        return Path(os.environ["STFNET_LIVE_HOME"])
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "stfnet-live"
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", Path.home())) / "stfnet-live"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "stfnet-live"


def models_dir() -> Path:
    return user_data_dir() / "models"


def custom_models() -> list[Path]:
    """The trained custom models (``models/<name>/model.pt``), by name."""
    folder = models_dir()
    return sorted(folder.glob("*/model.pt")) if folder.is_dir() else []


def check_name(name: str, what: str) -> str:
    name = name.strip()
    if not NAME_PATTERN.match(name):
        raise UserError(f"'{name}' cannot be a {what} name: use letters, digits, '_', '-' or '.', up to 64 "
                        "characters, starting with a letter or digit")
    return name


@dataclass(frozen=True)
class SampleInfo:
    name: str
    label: str
    frames: int
    seconds: float


class TeachSession:
    def __init__(self, folder: Path, layout: Layout) -> None:
        self.folder = folder
        self.layout = layout
        self.dataset_path = folder / "dataset.npz"  # the format that runs no code when read
        self.model_path = folder / "model.pt"
        self._data = self._load()

    @classmethod
    def open(cls, model_name: str, layout: Layout) -> TeachSession:
        return cls(models_dir() / check_name(model_name, "model"), layout)

    @property
    def name(self) -> str:
        return self.folder.name

    def _load(self) -> dict[str, Any]:
        if not self.dataset_path.is_file():
            return {"split": {"train": []}, "annotations": [], "classes": [], "layout": self.layout.to_dict()}
        data = load_dataset(self.dataset_path)
        stored = data.get("layout")
        if stored is not None and Layout.from_dict(stored) != self.layout:
            raise UserError(f"the samples in {self.folder} were recorded for layout "
                            f"'{Layout.from_dict(stored).name}', not '{self.layout.name}': choose a model of that "
                            "layout, or another name")
        return data

    def _save(self) -> None:
        # Class names in order of first use; labels are indices into them, renumbered after every change.
        labels = list(dict.fromkeys(a["action"] for a in self._data["annotations"]))
        for ann in self._data["annotations"]:
            ann["label"] = labels.index(ann["action"])
        self._data["classes"] = labels
        self._data["split"] = {"train": [a["frame_dir"] for a in self._data["annotations"]]}
        save_dataset(self._data, self.dataset_path)

    def add(self, label: str, keypoints: np.ndarray, scores: np.ndarray, fps: float) -> str:
        """Store one recorded sample, ``(T, V, C)`` keypoints and ``(T, V)`` scores of one person."""
        label = check_name(label, "action")
        if keypoints.ndim != 3 or keypoints.shape[1] != self.layout.num_joints or len(keypoints) == 0:
            raise UserError(f"a sample needs frames of {self.layout.num_joints} joints, got shape "
                            f"{keypoints.shape}")
        taken = {a["frame_dir"] for a in self._data["annotations"]}
        stamp = time.strftime("%Y%m%d-%H%M%S")
        name = next(n for i in range(len(taken) + 1) if (n := f"{label}-{stamp}-{i}") not in taken)
        ann = make_annotation(name, 0, keypoints[None], scores[None])
        ann["action"] = label
        ann["fps"] = float(fps)
        self._data["annotations"].append(ann)
        self._save()
        return name

    def rename(self, name: str, label: str) -> None:
        self._find(name)["action"] = check_name(label, "action")
        self._save()

    def delete(self, name: str) -> None:
        self._data["annotations"].remove(self._find(name))
        self._save()

    def keypoints(self, name: str) -> tuple[np.ndarray, np.ndarray, float]:
        """A sample's ``(T, V, C)`` keypoints, ``(T, V)`` scores and frame rate, for playing it back."""
        ann = self._find(name)
        return ann["keypoint"][0], ann["keypoint_score"][0], float(ann["fps"])

    def _find(self, name: str) -> dict[str, Any]:
        for ann in self._data["annotations"]:
            if ann["frame_dir"] == name:
                return ann
        raise UserError(f"there is no sample '{name}' in {self.folder}")

    def samples(self) -> list[SampleInfo]:
        return [SampleInfo(a["frame_dir"], a["action"], a["keypoint"].shape[1],
                           round(a["keypoint"].shape[1] / a["fps"], 2)) for a in self._data["annotations"]]

    def counts(self) -> dict[str, int]:
        """Samples per action."""
        out: dict[str, int] = {}
        for ann in self._data["annotations"]:
            out[ann["action"]] = out.get(ann["action"], 0) + 1
        return out


@dataclass(frozen=True)
class RecordedSkeleton:
    keypoints: np.ndarray  # (T, V, C) one person, model layout
    scores: np.ndarray  # (T, V)
    fps: float  # frames per second of the recording

    @property
    def seconds(self) -> float:
        return len(self.keypoints) / self.fps if len(self.keypoints) else 0.0


class SkeletonRecorder:
    """Collects one person's skeletons frame by frame until ``max_seconds`` of stream time have passed (or the
    caller stops it). The person is the one in focus, else the first tracked; frames without them are skipped."""

    def __init__(self, max_seconds: float | None) -> None:
        self.max_seconds = max_seconds
        self._times: list[float] = []
        self._keypoints: list[np.ndarray] = []
        self._scores: list[np.ndarray] = []

    def add(self, timestamp: float, people: tuple[Any, ...], focus: int | None = None) -> bool:
        """Add a frame's tracked people (``TrackedPerson``); True once the recording is long enough."""
        chosen = next((p for p in people if p.person_id == focus), people[0] if people else None)
        if chosen is not None:
            self._times.append(timestamp)
            self._keypoints.append(np.array(chosen.keypoints, np.float32))
            self._scores.append(np.array(chosen.scores, np.float32))
        return (self.max_seconds is not None and len(self._times) > 1
                and self._times[-1] - self._times[0] >= self.max_seconds)

    def result(self) -> RecordedSkeleton:
        if len(self._times) < 2:
            return RecordedSkeleton(np.zeros((0, 0, 2), np.float32), np.zeros((0, 0), np.float32), 30.0)
        fps = (len(self._times) - 1) / max(self._times[-1] - self._times[0], 1e-6)
        return RecordedSkeleton(np.stack(self._keypoints), np.stack(self._scores), round(fps, 3))
