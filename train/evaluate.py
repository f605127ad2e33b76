"""`python main.py eval --model NAME_OR_PATH --data FILE --split NAME`: accuracy of a checkpoint on a dataset split.

Writes to ``--out`` (default ``<checkpoint folder>/eval-<checkpoint name>-<split>``):
``metrics.json`` (top-1, top-5, per-class accuracy, confusion matrix), ``confusion.png`` and ``scores.npz``
(the raw scores, for ``main.py ensemble``). The input is prepared as the checkpoint says: its layout, its
normalize options and its stream, without augmentation.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stfnet.atomic import write_text
from stfnet.checkpoint import Checkpoint, load_checkpoint
from stfnet.errors import UserError
from stfnet.shipped import resolve_model
from train.analysis.plots import plot_confusion
from train.analysis.scores import Scores, save_scores
from train.data.dataset import SkeletonDataset
from train.data.format import load_dataset, split_annotations
from train.loop import predict, topk_accuracy


def check_fits(ckpt: Checkpoint, data: dict[str, Any], annotations: list[dict[str, Any]], source: str) -> None:
    """Say clearly when a dataset cannot be fed to a checkpoint, before any work is done."""
    layout = ckpt.layout
    declared = data.get("layout")
    declared_name = declared.get("name") if isinstance(declared, dict) else declared
    if declared_name and declared_name != layout.name:
        raise UserError(f"the checkpoint is for layout '{layout.name}' but {source} holds '{declared_name}' "
                        "skeletons: evaluate it on data of its own layout")
    if not annotations:
        raise UserError(f"the split of {source} is empty")
    shape = np.shape(annotations[0]["keypoint"])  # (M, T, V, C)
    if shape[2] != layout.num_joints or shape[3] < ckpt.normalize.coords:
        raise UserError(f"{source} has {shape[2]} joints with {shape[3]} coordinates; the checkpoint needs "
                        f"{layout.num_joints} joints with {ckpt.normalize.coords}")
    top = max(int(a["label"]) for a in annotations)
    if top >= len(ckpt.labels):
        raise UserError(f"{source} has label {top} but the checkpoint knows {len(ckpt.labels)} classes")
    if data.get("classes") and list(data["classes"]) != ckpt.labels:
        raise UserError(f"the classes of {source} ({len(data['classes'])}: {', '.join(data['classes'][:3])}, ...) "
                        f"are not the checkpoint's ({len(ckpt.labels)}: {', '.join(ckpt.labels[:3])}, ...): "
                        "evaluate it on data with its own classes")


def compute_metrics(scores: np.ndarray, labels: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """Top-1/top-5, per-class accuracy (None for a class without samples) and the confusion matrix."""
    k = len(classes)
    predicted = scores.argmax(axis=1)
    confusion = np.zeros((k, k), dtype=np.int64)  # rows: true class, columns: predicted class
    np.add.at(confusion, (labels, predicted), 1)
    counts = confusion.sum(axis=1)
    scores_t, labels_t = torch.from_numpy(scores), torch.from_numpy(labels)
    return {
        "num_samples": int(len(labels)),
        "top1": topk_accuracy(scores_t, labels_t, 1),
        "top5": topk_accuracy(scores_t, labels_t, 5),
        "per_class_accuracy": {name: (float(confusion[c, c] / counts[c]) if counts[c] else None)
                               for c, name in enumerate(classes)},
        "per_class_samples": {name: int(counts[c]) for c, name in enumerate(classes)},
        "classes": list(classes),
        "confusion_matrix": confusion.tolist(),
    }


def evaluate_checkpoint(checkpoint: str | Path, data_path: str | Path, split: str, batch_size: int = 64,
                        device: str = "auto", workers: int = 0) -> Scores:
    """Scores of a checkpoint on every sample of one split, in the split's order."""
    dev = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device)
    ckpt = load_checkpoint(checkpoint, map_location="cpu")
    dataset = split_dataset(ckpt, data_path, split)
    scores, labels = predict(ckpt.build_model(dev), dataset, dev, batch_size, workers)
    return Scores(scores=scores.numpy(), labels=labels.numpy(),
                  frame_dirs=[a["frame_dir"] for a in dataset.annotations], classes=list(ckpt.labels),
                  stream=ckpt.stream, split=split, checkpoint=str(checkpoint))


def split_dataset(ckpt: Checkpoint, data_path: str | Path, split: str) -> SkeletonDataset:
    """One split of a dataset file, checked against the checkpoint and prepared as it says (no augmentation)."""
    data = load_dataset(data_path)
    annotations = split_annotations(data, split)
    check_fits(ckpt, data, annotations, f"split '{split}' of {data_path}")
    return SkeletonDataset(annotations, ckpt.layout, ckpt.normalize, ckpt.stream, fps=data.get("fps"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", "--checkpoint", dest="model", metavar="NAME_OR_PATH",
                        help="shipped model name or checkpoint file (.pt) (default: the default model)")
    parser.add_argument("--data", required=True, help="dataset file (pyskl annotation pickle)")
    parser.add_argument("--split", required=True, help="split of the dataset to evaluate on, e.g. xsub_test")
    parser.add_argument("--out", help="folder for metrics.json, confusion.png and scores.npz "
                                      "(default: next to the checkpoint, eval-<name>-<split>)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")


def run(args: argparse.Namespace) -> int:
    ckpt = resolve_model(args.model)
    result = evaluate_checkpoint(ckpt, args.data, args.split, args.batch_size, args.device, args.workers)
    out = Path(args.out) if args.out else ckpt.parent / f"eval-{ckpt.stem}-{args.split}"
    metrics = compute_metrics(result.scores, result.labels, result.classes)
    metrics |= {"checkpoint": str(ckpt), "data": str(args.data), "split": args.split,
                "stream": result.stream}
    save_scores(result, out / "scores.npz")
    plot_confusion(np.array(metrics["confusion_matrix"]), result.classes, out / "confusion.png",
                   title=f"{ckpt.name} on {args.split}: top-1 {metrics['top1']:.3f}")
    write_text(out / "metrics.json", json.dumps(metrics, indent=1))
    print(json.dumps({"top1": round(metrics["top1"], 4), "top5": round(metrics["top5"], 4),
                      "samples": metrics["num_samples"], "out": str(out)}))
    return 0
