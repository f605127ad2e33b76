"""`bench fewshot`: how well a backbone learns new actions from a few examples, trained as the Teach panel trains.

    python main.py bench fewshot --data utd_op18.pkl [--backbone NAME_OR_PATH] [--shots 1 5 10] [--draws 3]

For every k in ``--shots`` and every draw (seed), k training samples per class are drawn at random from the
dataset's training split; the model is fine-tuned from the backbone exactly as the GUI does (``main.py train
--init-from BACKBONE --mirror 0`` with the fine-tuning defaults) and scored on the whole test split, beside a
1-nearest-neighbour and a nearest-class-mean on the same k samples per class. Reports test top-1 (mean and
spread over draws) and the CPU seconds training took (process time of all threads, so a busy machine changes it
little).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stfnet.checkpoint import load_checkpoint
from stfnet.errors import UserError
from stfnet.shipped import resolve_model, teach_backbone
from train.baselines import baseline_accuracies
from train.data.dataset import SkeletonDataset
from train.data.format import load_dataset, split_annotations
from train.loop import add_arguments as train_arguments
from train.loop import config_from_args, fit, predict, topk_accuracy
from train.splits import resolve_test_split, resolve_train_split


def draw(annotations: list[dict[str, Any]], shots: int, seed: int) -> list[dict[str, Any]]:
    """``shots`` samples of every class (all of a class that has fewer), drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    by_class: dict[int, list[dict[str, Any]]] = {}
    for ann in annotations:
        by_class.setdefault(int(ann["label"]), []).append(ann)
    chosen = []
    for label in sorted(by_class):
        members = by_class[label]
        chosen += [members[i] for i in sorted(rng.permutation(len(members))[:shots])]
    return chosen


def train_as_the_gui_does(data: dict[str, Any], backbone: Path, out: Path, extra: list[str]) -> dict[str, Any]:
    """Fine-tune from the backbone with the Teach panel's options (no test split: the GUI has none)."""
    parser = argparse.ArgumentParser()
    train_arguments(parser)
    args = parser.parse_args(["--data", "in-memory", "--out", str(out), "--init-from", str(backbone),
                              "--train-split", "train", "--test-split", "none", "--mirror", "0", *extra])
    return fit(config_from_args(args, data), data, quiet=True)


def test_top1(checkpoint: Path, test: list[dict[str, Any]], fps: float | None) -> float:
    ckpt = load_checkpoint(checkpoint)
    dataset = SkeletonDataset(test, ckpt.layout, ckpt.normalize, ckpt.stream, fps=fps)
    return topk_accuracy(*predict(ckpt.build_model("cpu"), dataset, torch.device("cpu")), 1)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backbone", default=None, metavar="NAME_OR_PATH",
                        help="shipped model or checkpoint to fine-tune from (default: the one the Teach panel "
                             "starts from while the default model runs)")
    parser.add_argument("--data", required=True, help="dataset with a training and a test split, in the "
                                                      "backbone's layout")
    parser.add_argument("--shots", type=int, nargs="+", default=[1, 5, 10], help="samples per class")
    parser.add_argument("--draws", type=int, default=3, help="random draws (seeds) per number of shots")
    parser.add_argument("--train-split", default="auto")
    parser.add_argument("--test-split", default="auto")
    parser.add_argument("--out", type=Path, default=None, help="also write the report as JSON")
    parser.add_argument("--train-option", action="append", default=[], metavar="OPTION",
                        help="extra `main.py train` option, repeatable (e.g. --train-option=--steps=100)")


def run(args: argparse.Namespace) -> int:
    backbone = resolve_model(args.backbone) if args.backbone else teach_backbone(resolve_model(None))
    layout = load_checkpoint(backbone).layout
    data = load_dataset(args.data)
    train_name = resolve_train_split(data, args.train_split)
    test_name = resolve_test_split(data, train_name, args.test_split)
    if test_name is None:
        raise UserError(f"{args.data} has no test split to score on: pass --test-split")
    pool, test = split_annotations(data, train_name), split_annotations(data, test_name)
    extra = [part for option in args.train_option for part in option.split("=", 1)]
    report: dict[str, Any] = {"backbone": str(backbone), "data": str(args.data), "train_split": train_name,
                              "test_split": test_name, "test_samples": len(test), "results": []}
    with tempfile.TemporaryDirectory() as scratch:
        for shots in args.shots:
            runs = []
            for seed in range(args.draws):
                chosen = draw(pool, shots, seed)
                subset = {**data, "annotations": chosen, "split": {"train": [a["frame_dir"] for a in chosen]}}
                folder = Path(scratch) / f"k{shots}_s{seed}"
                started = time.process_time()  # the training only: what the user waits for
                summary = train_as_the_gui_does(subset, backbone, folder, extra)
                cpu = time.process_time() - started
                ckpt = load_checkpoint(folder / "final.pt")
                base = baseline_accuracies(chosen, {"test": test}, layout, ckpt.normalize)["test"]
                top1 = test_top1(folder / "final.pt", test, data.get("fps"))
                runs.append({"seed": seed, "top1": top1, "nn1": base["nn1"],
                             "class_mean": base["class_mean"], "cpu_seconds": round(cpu, 1),
                             "steps": summary["choices"]["schedule"]["steps"],
                             "precision": summary["choices"]["precision"]})
                print(f"fewshot: {shots} per class, draw {seed}: model {top1:.1%}, 1-NN "
                      f"{base['nn1']:.1%}, {cpu:.0f} s CPU", file=sys.stderr, flush=True)

            def stats(key: str, values: list[dict[str, Any]] = runs) -> dict[str, float]:
                numbers = [r[key] for r in values]
                return {"mean": round(statistics.fmean(numbers), 4),
                        "std": round(statistics.stdev(numbers), 4) if len(numbers) > 1 else 0.0}

            report["results"].append({"shots": shots, "top1": stats("top1"), "nn1": stats("nn1"),
                                      "class_mean": stats("class_mean"), "cpu_seconds": stats("cpu_seconds"),
                                      "runs": runs})
    if args.out is not None:
        args.out.write_text(json.dumps(report, indent=1))
    print(json.dumps({"results": [{k: v for k, v in r.items() if k != "runs"} for r in report["results"]]},
                     indent=1))
    return 0
