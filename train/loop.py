"""`python main.py train`: train one stream of STF-Net on a dataset file.

``train_one_epoch()`` and ``evaluate()`` do one pass each; ``fit()`` runs the whole schedule, writes per-epoch
metrics (CSV and JSON) and the checkpoints atomically every epoch, and resumes from ``last.pt``. Checkpoints:
``last.pt`` (with optimizer state, for resuming), ``best.pt`` (best validation top-1 so far) and, at the end,
``final.pt`` (the last epoch without optimizer state: the one to use when the validation split is the test split,
since choosing the best epoch on it would select on test data). Under ``torchrun --nproc_per_node N main.py
train ...`` it runs DistributedDataParallel (NCCL on CUDA, gloo on the CPU); ``--batch-size`` stays the global
batch, split over the processes.

Reproducibility: the data order comes from ``DistributedSampler(seed).set_epoch(epoch)``, augmentation draws
from ``(seed, epoch, sample)`` and torch's RNG (dropout) is reseeded with ``seed + epoch`` at each epoch's start,
so an epoch's outcome depends only on the weights and optimizer state it starts from. A run interrupted
mid-epoch resumes at the start of that epoch and ends where the uninterrupted run would.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from stfnet.checkpoint import load_checkpoint, make_checkpoint, save_checkpoint
from stfnet.errors import UserError
from stfnet.features import STREAMS, NormalizeConfig
from stfnet.layouts import Layout, get_layout
from stfnet.model import STFNet, STFNetConfig
from train.data.augment import AugmentConfig
from train.data.dataset import SkeletonDataset
from train.data.format import class_names, load_dataset, split_annotations


@dataclass
class TrainConfig:
    data: str  # dataset file (pyskl annotation pickle)
    out: str  # run folder: checkpoints and metrics
    train_split: str = "xsub_train"
    val_split: str = "xsub_test"
    layout: str | None = None  # layout name or JSON; None: the dataset file's own
    stream: str = "joint"  # joint | bone | joint_motion | bone_motion
    model: STFNetConfig = field(default_factory=STFNetConfig)  # layout, classes and channels are filled in
    normalize: NormalizeConfig = field(default_factory=NormalizeConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    epochs: int = 65
    batch_size: int = 32  # global batch, over all processes
    lr: float = 0.1
    momentum: float = 0.9  # Nesterov
    weight_decay: float = 1e-4
    milestones: tuple[int, ...] = (30, 40)  # epochs where the learning rate is divided by 10
    warmup_epochs: int = 5  # linear warm-up from lr / 10
    label_smoothing: float = 0.0
    seed: int = 0
    workers: int = 0  # DataLoader worker processes
    resume: bool = False  # continue from out/last.pt if it exists
    device: str = "auto"  # auto: cuda when present, else cpu


# --- one epoch ----------------------------------------------------------------------------------------------------

def learning_rate(cfg: TrainConfig, epoch: float) -> float:
    """Linear warm-up, then step decay; ``epoch`` is fractional within an epoch."""
    if epoch < cfg.warmup_epochs:
        return cfg.lr * (0.1 + 0.9 * epoch / cfg.warmup_epochs)
    return cfg.lr * 0.1 ** sum(epoch >= m for m in cfg.milestones)


def optimization_step(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
                      scaler: torch.amp.GradScaler | None, label_smoothing: float = 0.0
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """One SGD step on a batch (mixed precision when a scaler is given); returns the loss and the logits."""
    with torch.autocast(x.device.type, enabled=scaler is not None):
        logits = model(x)
        loss = F.cross_entropy(logits, y, label_smoothing=label_smoothing)
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        optimizer.step()
    return loss.detach(), logits.detach()


def train_one_epoch(model: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer, cfg: TrainConfig,
                    epoch: int, device: torch.device, scaler: torch.amp.GradScaler | None,
                    show_progress: bool) -> dict[str, float]:
    model.train()
    total_loss, correct, seen, start = 0.0, 0, 0, time.perf_counter()
    bar = tqdm(loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch", leave=False, file=sys.stderr,
               disable=not show_progress)
    for i, (x, y) in enumerate(bar):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(cfg, epoch + i / len(loader))
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        loss, logits = optimization_step(model, optimizer, x, y, scaler, cfg.label_smoothing)
        if not torch.isfinite(loss):
            raise RuntimeError(f"the loss became {loss.item()} in epoch {epoch + 1}: lower --lr")
        total_loss += loss.item() * len(y)
        correct += (logits.argmax(1) == y).sum().item()
        seen += len(y)
        bar.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.3f}")
    elapsed = time.perf_counter() - start
    return {"train_loss": total_loss / seen, "train_top1": correct / seen, "lr": optimizer.param_groups[0]["lr"],
            "train_seconds": elapsed, "samples_per_second": seen / elapsed}


@torch.no_grad()
def predict(model: nn.Module, loader: DataLoader, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits ``(N, classes)`` and labels ``(N,)`` for a whole loader, in its order."""
    model.eval()
    scores, labels = [], []
    for x, y in loader:
        with torch.autocast(device.type, enabled=device.type == "cuda"):
            scores.append(model(x.to(device)).float().cpu())
        labels.append(y)
    return torch.cat(scores), torch.cat(labels)


def topk_accuracy(scores: torch.Tensor, labels: torch.Tensor, k: int) -> float:
    k = min(k, scores.shape[1])
    return (scores.topk(k, dim=1).indices == labels[:, None]).any(dim=1).float().mean().item()


def evaluate(model: nn.Module, loader: DataLoader, device: torch.device) -> dict[str, float]:
    scores, labels = predict(model, loader, device)
    return {"val_loss": F.cross_entropy(scores, labels).item(), "val_top1": topk_accuracy(scores, labels, 1),
            "val_top5": topk_accuracy(scores, labels, 5)}


# --- the whole run ------------------------------------------------------------------------------------------------

def _init_distributed() -> tuple[int, int]:
    """(rank, world size); starts the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def _resolve_layout(cfg: TrainConfig, data: dict[str, Any]) -> Layout:
    if cfg.layout is not None:
        return get_layout(cfg.layout)
    stored = data.get("layout")
    if stored is None:
        raise UserError(f"{cfg.data} does not say which skeleton layout it uses: pass --layout")
    return Layout.from_dict(stored) if isinstance(stored, dict) else get_layout(stored)


def _write_metrics(out: Path, history: list[dict[str, float]]) -> None:
    (out / "metrics.json").write_text(json.dumps(history, indent=1))
    with open(out / "metrics.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)


def fit(cfg: TrainConfig, data: dict[str, Any] | None = None) -> dict[str, float]:
    """Train, validate every epoch, checkpoint every epoch; returns the last epoch's metrics.

    ``data`` is the loaded dataset file, when the caller has it already."""
    rank, world = _init_distributed()
    if cfg.batch_size % world:
        raise UserError(f"--batch-size {cfg.batch_size} does not split evenly over {world} processes")
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if cfg.device == "auto" else cfg.device)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if cfg.stream not in STREAMS:
        raise UserError(f"unknown stream '{cfg.stream}': use one of {', '.join(STREAMS)}")
    data = load_dataset(cfg.data) if data is None else data
    layout = _resolve_layout(cfg, data)
    labels = class_names(data)
    train_set = SkeletonDataset(split_annotations(data, cfg.train_split), layout, cfg.normalize, cfg.stream,
                                cfg.augment, cfg.seed)
    val_set = SkeletonDataset(split_annotations(data, cfg.val_split), layout, cfg.normalize, cfg.stream)
    for split, dataset in ((cfg.train_split, train_set), (cfg.val_split, val_set)):
        if len(dataset) == 0:  # would fail later inside torch with a message that names neither
            raise UserError(f"split '{split}' of {cfg.data} holds no samples: choose another split")
    model_cfg = dataclasses.replace(cfg.model, layout=layout, num_classes=len(labels),
                                    in_channels=cfg.normalize.in_channels)
    torch.manual_seed(cfg.seed)
    model = STFNet(model_cfg).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, nesterov=True,
                                weight_decay=cfg.weight_decay)
    scaler = torch.amp.GradScaler("cuda") if device.type == "cuda" else None

    out = Path(cfg.out)
    start_epoch, best, history = 0, -1.0, []
    if cfg.resume and (out / "last.pt").is_file():
        state = load_checkpoint(out / "last.pt", map_location=device)
        model.load_state_dict(state.state_dict)
        training = state.training_state or {}
        optimizer.load_state_dict(training["optimizer"])
        if scaler is not None and training.get("scaler"):
            scaler.load_state_dict(training["scaler"])
        start_epoch, best, history = training["epoch"], training["best_top1"], training["history"]
        if rank == 0:
            print(f"resuming {out} after epoch {start_epoch}", file=sys.stderr)
    elif rank == 0:
        out.mkdir(parents=True, exist_ok=True)

    train_model = nn.parallel.DistributedDataParallel(model) if world > 1 else model
    sampler = DistributedSampler(train_set, num_replicas=world, rank=rank, shuffle=True, seed=cfg.seed)
    train_loader = DataLoader(train_set, batch_size=cfg.batch_size // world, sampler=sampler,
                              num_workers=cfg.workers, pin_memory=device.type == "cuda",
                              persistent_workers=cfg.workers > 0)
    val_loader = DataLoader(val_set, batch_size=cfg.batch_size, num_workers=cfg.workers)
    extra = {"train_config": _config_summary(cfg), "dataset": str(cfg.data), "split": cfg.val_split}
    if data.get("fps"):  # how much time one window covers, so live input can be buffered alike
        mean_frames = sum(a["keypoint"].shape[1] for a in train_set.annotations) / len(train_set)
        extra["window_seconds"] = round(mean_frames * sum(cfg.augment.crop) / 2 / float(data["fps"]), 3)

    metrics: dict[str, float] = history[-1] if history else {}
    for epoch in range(start_epoch, cfg.epochs):
        torch.manual_seed(cfg.seed + epoch)
        sampler.set_epoch(epoch)
        train_set.epoch = epoch
        metrics = {"epoch": epoch + 1}
        metrics |= train_one_epoch(train_model, train_loader, optimizer, cfg, epoch, device, scaler, rank == 0)
        if rank == 0:
            metrics |= evaluate(model, val_loader, device)
            history.append(metrics)
            _write_metrics(out, history)
            ckpt = make_checkpoint(model, labels, cfg.stream, cfg.normalize, extra | {"epoch": epoch + 1,
                                   "val_top1": metrics["val_top1"], "val_top5": metrics["val_top5"]})
            if metrics["val_top1"] > best:
                best = metrics["val_top1"]
                save_checkpoint(ckpt, out / "best.pt")
            if epoch + 1 == cfg.epochs:  # the end of the schedule, without optimizer state: the one to ship
                save_checkpoint(ckpt, out / "final.pt")
            ckpt.training_state = {"optimizer": optimizer.state_dict(), "epoch": epoch + 1, "best_top1": best,
                                   "history": history, "scaler": scaler.state_dict() if scaler else None}
            save_checkpoint(ckpt, out / "last.pt")
            print(f"epoch {epoch + 1}/{cfg.epochs}  loss {metrics['train_loss']:.3f}  "
                  f"train {metrics['train_top1']:.3f}  val {metrics['val_top1']:.4f}  "
                  f"({metrics['samples_per_second']:.0f} samples/s)", file=sys.stderr, flush=True)
        if world > 1:
            dist.barrier()
    if world > 1:
        dist.destroy_process_group()
    return metrics


def _config_summary(cfg: TrainConfig) -> dict[str, Any]:
    """The run's settings as plain data, for the checkpoint and the metrics."""
    d = dataclasses.asdict(dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, layout="")))
    d["model"].pop("layout")
    return json.loads(json.dumps(d, default=list))


# --- command line -------------------------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = TrainConfig(data="", out="")
    a = d.augment
    parser.add_argument("--data", required=True, help="dataset file (pyskl annotation pickle)")
    parser.add_argument("--out", required=True, help="run folder for checkpoints and metrics")
    parser.add_argument("--train-split", default=d.train_split)
    parser.add_argument("--val-split", default=d.val_split)
    parser.add_argument("--layout", help="layout name or JSON file (default: the one the dataset names)")
    parser.add_argument("--stream", default=d.stream, choices=STREAMS)
    model = parser.add_argument_group("model")
    model.add_argument("--model", default="stfnet", choices=("stfnet", "stgcn"),
                       help="stgcn: the same backbone without graph mask, MCF and TDF")
    model.add_argument("--no-mask", action="store_true", help="without the learnable graph mask")
    model.add_argument("--no-mcf", action="store_true", help="without MCF")
    model.add_argument("--no-tdf", action="store_true", help="without TDF")
    model.add_argument("--tdf-motion", action="store_true", help="TDF on frame differences, kernel 3")
    model.add_argument("--grains", type=int, help="MCF grains including joints (default: all of the layout)")
    model.add_argument("--mcf-full-init", action="store_true",
                       help="MCF's output BN starts at 1 instead of 0, so a fresh MCF already changes the features")
    model.add_argument("--base-channels", type=int, default=d.model.base_channels)
    model.add_argument("--dropout", type=float, default=d.model.dropout)
    prep = parser.add_argument_group("input")
    prep.add_argument("--frames", type=int, default=d.normalize.num_frames, help="frames in one window")
    prep.add_argument("--persons", type=int, default=d.normalize.num_persons)
    prep.add_argument("--coords", type=int, choices=(2, 3), help="coordinates per joint (default: the data's)")
    prep.add_argument("--use-score", action=argparse.BooleanOptionalAction,
                      help="add the joint score as a channel (default: on for 2D data)")
    prep.add_argument("--center", default=d.normalize.center, choices=("first_frame", "frame", "none"))
    prep.add_argument("--scale", default=d.normalize.scale, choices=("bones", "none"))
    prep.add_argument("--ignore-joints", type=int, nargs="*", default=[],
                      help="joints always treated as unseen (e.g. ones the training data lacks)")
    aug = parser.add_argument_group("augmentation")
    aug.add_argument("--crop", type=float, nargs=2, default=a.crop, metavar=("MIN", "MAX"))
    aug.add_argument("--rotate", type=float, default=a.rotate, help="max rotation in degrees")
    aug.add_argument("--scale-aug", type=float, default=a.scale, help="max relative scale change")
    aug.add_argument("--shift", type=float, default=a.shift)
    aug.add_argument("--jitter", type=float, default=a.jitter)
    aug.add_argument("--drop-joint", type=float, default=a.drop_joint)
    aug.add_argument("--drop-lower-body", type=float, default=a.drop_lower_body)
    aug.add_argument("--mirror", type=float, default=a.mirror)
    opt = parser.add_argument_group("optimisation")
    opt.add_argument("--epochs", type=int, default=d.epochs)
    opt.add_argument("--batch-size", type=int, default=d.batch_size)
    opt.add_argument("--lr", type=float, default=d.lr)
    opt.add_argument("--weight-decay", type=float, default=d.weight_decay)
    opt.add_argument("--milestones", type=int, nargs="*", default=list(d.milestones))
    opt.add_argument("--warmup-epochs", type=int, default=d.warmup_epochs)
    opt.add_argument("--label-smoothing", type=float, default=d.label_smoothing)
    opt.add_argument("--seed", type=int, default=d.seed)
    opt.add_argument("--workers", type=int, default=d.workers)
    opt.add_argument("--device", default=d.device, help="auto, cpu, cuda, cuda:1, ...")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")


def config_from_args(args: argparse.Namespace, data: dict[str, Any]) -> TrainConfig:
    if not data["annotations"]:
        raise UserError(f"{args.data} holds no samples")
    channels = int(data["annotations"][0]["keypoint"].shape[-1])  # coordinates per joint
    coords = args.coords or min(channels, 3)
    use_score = args.use_score if args.use_score is not None else channels == 2
    variant = {"graph_mask": False, "mcf": False, "tdf": False} if args.model == "stgcn" else {
        "graph_mask": not args.no_mask, "mcf": not args.no_mcf, "tdf": not args.no_tdf}
    return TrainConfig(
        data=args.data, out=args.out, train_split=args.train_split, val_split=args.val_split, layout=args.layout,
        stream=args.stream,
        model=STFNetConfig(tdf_motion=args.tdf_motion, num_grains=args.grains, base_channels=args.base_channels,
                           dropout=args.dropout, mcf_identity_init=not args.mcf_full_init, **variant),
        normalize=NormalizeConfig(num_frames=args.frames, num_persons=args.persons, coords=coords,
                                  use_score=use_score, center=args.center, scale=args.scale,
                                  ignore_joints=tuple(args.ignore_joints)),
        augment=AugmentConfig(crop=tuple(args.crop), rotate=args.rotate, scale=args.scale_aug, shift=args.shift,
                              jitter=args.jitter, drop_joint=args.drop_joint, drop_lower_body=args.drop_lower_body,
                              mirror=args.mirror),
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
        milestones=tuple(args.milestones), warmup_epochs=args.warmup_epochs, label_smoothing=args.label_smoothing,
        seed=args.seed, workers=args.workers, resume=args.resume, device=args.device,
    )


def run(args: argparse.Namespace) -> int:
    data = load_dataset(args.data)
    metrics = fit(config_from_args(args, data), data)
    if metrics and int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()}))
    return 0 if math.isfinite(metrics.get("train_loss", 0.0)) else 1
