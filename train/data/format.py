"""The one dataset format, in two containers: the pyskl / mmaction2 annotation pickle, and ``.npz`` + JSON.

    {"split": {"xsub_train": [frame_dir, ...], ...},
     "annotations": [{"frame_dir": str, "label": int, "keypoint": (M, T, V, C) float32,
                      "keypoint_score": (M, T, V) float32 (optional), "total_frames": int,
                      "img_shape": (h, w) (optional)}, ...],
     "classes": [name, ...],   # ours, optional: class names in label order
     "layout": str | dict,     # ours, optional: the skeleton layout the keypoints follow
     "fps": float}             # ours, optional: frames per second of the keypoint sequences

Files prepared for pyskl or mmaction2 load as they are; the two optional keys are ignored by those tools.
mmaction2 0.x wrote a bare list of annotations per split file: it loads as one split named ``all``.
A single annotation dict (one sample, as in PaddleVideo's example) is not a dataset: the loader says so and
points to ``main.py convert pyskl-sample``, which wraps such files into one.

Outside files are untrusted. A pickle is read by ``safe_pickle`` (containers and numpy arrays only, never code);
a ``.npz`` dataset holds no code at all: every array of sample ``i`` is the member ``i/<field>`` and everything
else is one JSON string, ``meta``, read with ``allow_pickle=False``. ``save_dataset`` writes ``.npz`` when the
path ends in ``.npz``, else a pickle (for pyskl). Every loaded dataset passes ``validate.validate_dataset``.
"""

from __future__ import annotations

import json
import pickle
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from stfnet.atomic import atomic_open
from stfnet.errors import DatasetError, UserError
from train.data import safe_pickle
from train.data.validate import validate_dataset

NPZ_FORMAT = "stfnet-dataset/1"
MAX_FRAMES = 100_000  # converters refuse a clip claiming more frames (an hour at 30 fps): it is broken
MAX_NPZ_EXPANSION = 100  # a zip member may claim at most this many times the file's size: no zip bombs


class SampleError(ValueError):
    """One input file of a converter cannot be converted; the message names the file."""


def load_dataset(path: str | Path) -> dict[str, Any]:
    """A dataset file (pickle or ``.npz``), read without running code and validated."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"dataset file {path} does not exist")
    try:
        with open(path, "rb") as f:
            is_zip = f.read(4) == b"PK\x03\x04"
    except OSError as exc:
        raise DatasetError(f"dataset file {path} cannot be read ({exc.strerror})") from None
    if is_zip:
        data = _load_npz(path)
    else:
        try:
            data = safe_pickle.load_file(path)
        except safe_pickle.PickleError as exc:
            raise DatasetError(f"{path} {exc}") from None
    if isinstance(data, list) and all(isinstance(a, dict) for a in data):
        data = {"split": {"all": [a.get("frame_dir") for a in data]}, "annotations": data}
    if isinstance(data, dict) and "annotations" not in data and "keypoint" in data:
        raise DatasetError(f"{path} holds a single pyskl annotation (one sample), not a dataset: wrap such files "
                           f"into one with `main.py convert pyskl-sample`")
    if not isinstance(data, dict) or "annotations" not in data:
        raise DatasetError(f"{path} is not in the pyskl annotation format (a dict with 'annotations')")
    data.setdefault("split", {})
    return validate_dataset(data, path)


def _load_npz(path: Path) -> dict[str, Any]:
    try:
        with zipfile.ZipFile(path) as zf:
            claimed = sum(info.file_size for info in zf.infolist())
        if claimed > MAX_NPZ_EXPANSION * path.stat().st_size:
            raise DatasetError(f"{path} claims {claimed / 2**30:.1f} GiB of arrays in a file of "
                               f"{path.stat().st_size / 2**20:.1f} MiB: it is damaged or a zip bomb")
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"][()]))
            if not isinstance(meta, dict) or meta.get("format") != NPZ_FORMAT:
                raise DatasetError(f"{path} is not an STF-Net dataset (.npz without the '{NPZ_FORMAT}' marker)")
            annotations = meta.get("annotations")
            if not isinstance(annotations, list) or not all(isinstance(a, dict) for a in annotations):
                raise DatasetError(f"{path}: 'annotations' must be a list of samples")
            for name in z.files:
                if name == "meta":
                    continue
                index, _, field = name.partition("/")
                if not index.isdigit() or int(index) >= len(annotations) or not field:
                    raise DatasetError(f"{path} holds an array '{name}' that belongs to no sample")
                annotations[int(index)][field] = z[name]
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile, zlib.error, NotImplementedError,
            RecursionError, MemoryError) as exc:  # NotImplementedError: a zip feature Python lacks
        raise DatasetError(f"{path} is not a readable .npz dataset ({type(exc).__name__})") from None
    meta.pop("format")
    return meta


def save_dataset(data: dict[str, Any], path: str | Path) -> None:
    """Write atomically, so an interrupted conversion never leaves a half-written dataset: ``.npz`` when the
    path ends in ``.npz``, else a pickle."""
    if Path(path).suffix.lower() != ".npz":
        with atomic_open(path) as f:
            pickle.dump(data, f, protocol=pickle.HIGHEST_PROTOCOL)
        return
    arrays: dict[str, np.ndarray] = {}
    annotations = []
    for i, ann in enumerate(data["annotations"]):
        plain = {}
        for key, value in ann.items():
            if isinstance(value, np.ndarray):
                if value.dtype.hasobject:  # np.savez would pickle it, and the file would hold code again
                    raise ValueError(f"sample {i}: '{key}' holds Python objects, which a .npz dataset cannot")
                arrays[f"{i}/{key}"] = value
            else:
                plain[key] = value
        annotations.append(plain)
    meta = {"format": NPZ_FORMAT, **{k: v for k, v in data.items() if k != "annotations"},
            "annotations": annotations}
    arrays["meta"] = np.array(json.dumps(meta, default=_plain))
    with atomic_open(path) as f:
        np.savez(f, **arrays)


def _plain(value: Any) -> Any:
    """numpy scalars and small arrays (img_shape) as JSON values."""
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    raise TypeError(f"a dataset field of type {type(value).__name__} cannot be saved as JSON")


def split_annotations(data: dict[str, Any], split: str) -> list[dict[str, Any]]:
    """The annotations of one split, in the split's order."""
    if split not in data["split"]:
        known = ", ".join(sorted(data["split"])) or "none"
        raise DatasetError(f"the dataset has no split '{split}' (splits: {known})")
    by_name = {ann["frame_dir"]: ann for ann in data["annotations"]}
    missing = [name for name in data["split"][split] if name not in by_name]
    if missing:
        raise DatasetError(f"split '{split}' names {len(missing)} samples without annotations, e.g. {missing[0]}")
    return [by_name[name] for name in data["split"][split]]


def class_names(data: dict[str, Any]) -> list[str]:
    """Class names in label order: the file's own, or ``class_<i>`` when it has none."""
    if data.get("classes"):
        return list(data["classes"])
    num = 1 + max(int(ann["label"]) for ann in data["annotations"])
    return [f"class_{i}" for i in range(num)]


def make_annotation(frame_dir: str, label: int, keypoint: np.ndarray, score: np.ndarray | None = None,
                    img_shape: tuple[int, int] | None = None) -> dict[str, Any]:
    ann: dict[str, Any] = {"frame_dir": frame_dir, "label": int(label),
                           "keypoint": np.ascontiguousarray(keypoint, dtype=np.float32),
                           "total_frames": int(keypoint.shape[1])}
    if score is not None:
        ann["keypoint_score"] = np.ascontiguousarray(score, dtype=np.float32)
    if img_shape is not None:
        ann["img_shape"] = tuple(img_shape)
    return ann


def stratified_split(annotations: list[dict[str, Any]], val_fraction: float, seed: int) -> dict[str, list[str]]:
    """Random ``train`` / ``val`` split with about ``val_fraction`` of every class in ``val``.

    Reproducible from ``seed`` whatever the input order; a class keeps at least one sample in ``train``.
    """
    if not 0 <= val_fraction < 1:
        raise UserError(f"the validation fraction must be in [0, 1), got {val_fraction}")
    rng = np.random.default_rng(seed)
    by_class: dict[int, list[str]] = {}
    for ann in annotations:
        by_class.setdefault(int(ann["label"]), []).append(ann["frame_dir"])
    val: set[str] = set()
    for label in sorted(by_class):
        names = sorted(by_class[label])
        count = min(round(len(names) * val_fraction), len(names) - 1)
        val.update(names[i] for i in rng.permutation(len(names))[:count])
    names = sorted(ann["frame_dir"] for ann in annotations)
    return {"train": [n for n in names if n not in val], "val": [n for n in names if n in val]}
