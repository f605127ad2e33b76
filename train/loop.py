"""`python main.py train`: train one stream of STF-Net on a dataset file.

``train_one_epoch()`` and ``evaluate()`` do one pass each; ``fit()`` runs the whole schedule. Defaults fit the
data (``train.autoconfig``, ``train.splits``): the schedule is counted in optimiser steps and scaled to the
dataset's size, the window covers a typical clip's duration, the augmentation suits 2D or 3D skeletons, a short
check decides whether left and right may be swapped, and the validation split is carved from the training
split, so no choice looks at the test split. Every choice is written to ``OUT/choices.json``.

Each evaluation period (about 40 per run) writes ``metrics.json`` / ``metrics.csv`` and the checkpoints
atomically: ``last.pt`` (with optimizer state, for resuming), ``best.pt`` (best validation top-1 so far) and, at
the end, ``final.pt``: the last weights, calibrated on the validation split (temperature scaling), the one to
use. The end of the run evaluates the test split once, beside a 1-nearest-neighbour and a nearest-class-mean
baseline fitted on the same training samples, and prints warnings a user can act on (``train.diagnostics``).

Fine-tuning (``--init-from CKPT``): the backbone's weights, layout and preprocessing with a new classifier for
the dataset's classes, optionally the first ``--freeze`` blocks fixed, and a short schedule.

Under ``torchrun --nproc_per_node N main.py train ...`` it runs DistributedDataParallel (NCCL on CUDA, gloo on
the CPU); ``--batch-size`` stays the global batch, split over the processes.

Reproducibility: the data order comes from ``DistributedSampler(seed).set_epoch(epoch)``, augmentation draws
from ``(seed, epoch, sample)`` and torch's RNG (dropout) is reseeded with ``seed + epoch`` at each epoch's start,
so an epoch's outcome depends only on the weights and optimizer state it starts from. A run interrupted
mid-period resumes at the start of that period and ends where the uninterrupted run would.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler

from stfnet.atomic import write_text
from stfnet.checkpoint import Checkpoint, load_checkpoint, make_checkpoint, save_checkpoint
from stfnet.errors import CheckpointError, UserError
from stfnet.features import STREAMS, NormalizeConfig
from stfnet.layouts import Layout, get_layout
from stfnet.model import STFNet, STFNetConfig
from stfnet.progress import progress
from train import autoconfig
from train.analysis.views import measure_views
from train.baselines import baseline_accuracies
from train.calibration import default_min_confidence, expected_calibration_error, fit_temperature, threshold_effect
from train.data.augment import AugmentConfig, mirror
from train.data.dataset import SkeletonDataset
from train.data.format import class_names, load_dataset, split_annotations
from train.diagnostics import diagnose
from train.precise_bn import recompute_batchnorm_statistics
from train.precision import PRECISIONS, autocast_dtype
from train.splits import FINE_TUNE_MIN_PER_CLASS, MIN_PER_CLASS, SplitPlan, plan_splits, resolve_train_split

# Settings that may differ between a run and its resumption without changing what it computes.
INCIDENTAL_SETTINGS = {"resume", "workers", "device"}


@dataclass
class TrainConfig:
    data: str  # dataset file (pyskl annotation pickle)
    out: str  # run folder: checkpoints and metrics
    train_split: str = "auto"  # "auto": train, xsub_train, xview_train or xset_train, the first the data has
    val_split: str | None = None  # None: carved from the training split (val_fraction of it)
    test_split: str | None = "auto"  # evaluated once at the end; "auto": the training split's counterpart
    val_fraction: float = 0.1
    layout: str | None = None  # layout name or JSON; None: the dataset file's own
    stream: str = "joint"  # joint | bone | joint_motion | bone_motion
    model: STFNetConfig = field(default_factory=STFNetConfig)  # layout, classes and channels are filled in
    normalize: NormalizeConfig = field(default_factory=NormalizeConfig)  # window and frames are filled in
    window_seconds: float | None = None  # None: the median clip duration (or the backbone's); 0: each clip whole
    frames: int | None = None  # samples per window; None: 16 per second of window (16-64), or 64 for whole clips
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    steps: int | None = None  # optimiser steps; None: from epochs, else from the dataset's size
    epochs: int | None = None  # used when steps is None
    batch_size: int = 32  # global batch, over all processes
    lr: float = 0.1
    momentum: float = 0.9  # Nesterov
    weight_decay: float = 1e-4
    warmup: float = 0.05  # share of the steps with a linear warm-up from lr / 10
    decay_at: tuple[float, ...] = (0.6, 0.85)  # shares of the steps where the learning rate is divided by 10
    label_smoothing: float = 0.0
    init_from: str | None = None  # fine-tune from this checkpoint (a new classifier for the data's classes)
    freeze: int = 0  # fine-tuning: the first N of the 10 blocks (and the input BatchNorm) stay fixed
    seed: int = 0
    workers: int = 0  # DataLoader worker processes
    resume: bool = False  # continue from out/last.pt if it exists
    device: str = "auto"  # auto: cuda when present, else cpu
    arms_free_margin: float | None = None  # answer with a second, arms-free reading when surer by this (arms_free)
    precision: str = "auto"  # auto | fp32 | bf16 (train.precision)


# --- one epoch ----------------------------------------------------------------------------------------------------

def optimization_step(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
                      scaler: torch.amp.GradScaler | None, label_smoothing: float = 0.0,
                      dtype: torch.dtype | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One SGD step on a batch, the forward pass autocast to ``dtype`` when one is given (float16 needs a loss
    ``scaler``); returns the loss and the logits."""
    with torch.autocast(x.device.type, dtype=dtype, enabled=dtype is not None):
        logits = model(x)
    loss = F.cross_entropy(logits.float(), y, label_smoothing=label_smoothing)
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
                    schedule: autoconfig.Schedule, epoch: int, device: torch.device,
                    scaler: torch.amp.GradScaler | None, show_progress: bool,
                    dtype: torch.dtype | None = None) -> dict[str, float]:
    model.train()
    total_loss, correct, seen, start = 0.0, 0, 0, time.perf_counter()
    bar = progress(loader, desc=f"epoch {epoch + 1}/{schedule.epochs}", unit="batch", leave=False,
                   enabled=None if show_progress else False)
    for i, (x, y) in enumerate(bar):
        step = epoch * schedule.steps_per_epoch + i
        for group in optimizer.param_groups:
            group["lr"] = schedule.learning_rate(cfg.lr, step)
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        loss, logits = optimization_step(model, optimizer, x, y, scaler, cfg.label_smoothing, dtype)
        if not torch.isfinite(loss):
            if not torch.isfinite(x).all():
                raise UserError(f"{cfg.data} holds samples with NaN or infinite coordinates: the loss became "
                                f"{loss.item()}; fix or drop those samples")
            raise UserError(f"the loss became {loss.item()} at step {step}: lower --lr")
        total_loss += loss.item() * len(y)
        main_class = y.argmax(1) if y.ndim == 2 else y  # mixed labels (swapped arms): the larger share
        correct += (logits.argmax(1) == main_class).sum().item()
        seen += len(y)
        bar.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.3f}")
    elapsed = time.perf_counter() - start
    return {"train_loss": total_loss / seen, "train_top1": correct / seen, "lr": optimizer.param_groups[0]["lr"],
            "train_seconds": elapsed, "samples_per_second": seen / elapsed}


@torch.no_grad()
def predict(model: nn.Module, dataset: SkeletonDataset, device: torch.device, batch_size: int = 64,
            workers: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits ``(clips, classes)`` (averaged over each clip's windows) and labels ``(clips,)``, in clip order."""
    model.eval()
    scores = []
    for x, _ in DataLoader(dataset, batch_size=batch_size, num_workers=workers):
        with torch.autocast(device.type, enabled=device.type == "cuda"):
            scores.append(model(x.to(device)).float().cpu())
    return dataset.clip_scores(torch.cat(scores)), torch.from_numpy(dataset.labels)


def topk_accuracy(scores: torch.Tensor, labels: torch.Tensor, k: int) -> float:
    k = min(k, scores.shape[1])
    return (scores.topk(k, dim=1).indices == labels[:, None]).any(dim=1).float().mean().item()


def evaluate(model: nn.Module, dataset: SkeletonDataset, device: torch.device, prefix: str = "val",
             workers: int = 0) -> dict[str, float]:
    scores, labels = predict(model, dataset, device, workers=workers)
    return {f"{prefix}_loss": F.cross_entropy(scores, labels).item(),
            f"{prefix}_top1": topk_accuracy(scores, labels, 1), f"{prefix}_top5": topk_accuracy(scores, labels, 5)}


# --- the whole run ------------------------------------------------------------------------------------------------

def _init_distributed() -> tuple[int, int]:
    """(rank, world size); starts the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def _resolve_layout(cfg: TrainConfig, data: dict[str, Any]) -> Layout:
    if cfg.layout is not None:
        layout = get_layout(cfg.layout)
    elif data.get("layout") is None:
        raise UserError(f"{cfg.data} does not say which skeleton layout it uses: pass --layout")
    else:
        stored = data["layout"]
        layout = Layout.from_dict(stored) if isinstance(stored, dict) else get_layout(str(stored))
    joints = np.shape(data["annotations"][0]["keypoint"])[2] if data["annotations"] else layout.num_joints
    if joints != layout.num_joints:
        raise UserError(f"{cfg.data} has {joints} joints per skeleton but layout '{layout.name}' has "
                        f"{layout.num_joints}: choose the layout the data was made in")
    return layout


def _write_metrics(out: Path, history: list[dict[str, float]], summary: dict[str, Any] | None = None) -> None:
    write_text(out / "metrics.json", json.dumps({"history": history, **(summary or {})}, indent=1))
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(dict.fromkeys(k for h in history for k in h)))
    writer.writeheader()
    writer.writerows(history)
    write_text(out / "metrics.csv", text.getvalue())


def _backbone(cfg: TrainConfig, layout: Layout) -> Checkpoint | None:
    """The checkpoint to fine-tune from, checked against the data."""
    if cfg.init_from is None:
        return None
    backbone = load_checkpoint(cfg.init_from)
    if backbone.layout != layout:
        raise CheckpointError(f"the backbone {cfg.init_from} is for layout '{backbone.layout.name}' but the data "
                              f"is '{layout.name}': record or convert the data in the backbone's layout")
    if not 0 <= cfg.freeze <= 10:
        raise UserError(f"--freeze takes 0 to 10 blocks, got {cfg.freeze}")
    return backbone


def build_model(cfg: TrainConfig, layout: Layout, num_classes: int, backbone: Checkpoint | None) -> STFNet:
    """A fresh model, or the backbone with a new classifier and its first ``cfg.freeze`` blocks fixed."""
    if backbone is None:
        return STFNet(dataclasses.replace(cfg.model, layout=layout, num_classes=num_classes,
                                          in_channels=cfg.normalize.in_channels))
    model = STFNet(dataclasses.replace(backbone.model_config, num_classes=num_classes))
    weights = {k: v for k, v in backbone.state_dict.items() if not k.startswith("head.")}
    model.load_state_dict(weights, strict=False)
    frozen = [model.data_bn, *model.blocks[: cfg.freeze]] if cfg.freeze else []
    for module in frozen:
        module.requires_grad_(False)
    return model


def _settings(cfg: TrainConfig, backbone: Checkpoint | None, train_set: list[dict[str, Any]],
              fps: float | None) -> tuple[NormalizeConfig, str]:
    """The preprocessing: the backbone's when fine-tuning; else a window of the data's typical duration, sampled
    at 16 frames per second (``autoconfig.window_frames``) unless the user chose."""
    if backbone is not None:  # its preprocessing, with a window as long as the new samples typically are
        norm = backbone.normalize
        seconds = autoconfig.window_seconds(train_set, fps) if norm.window_seconds is not None else None
        if seconds is None:
            return norm, f"the backbone's window: {norm.window_seconds or 'whole clips'}, {norm.num_frames} frames"
        return (dataclasses.replace(norm, window_seconds=seconds),
                f"window of {seconds} s (the median sample duration), the backbone's {norm.num_frames} frames")
    if cfg.window_seconds == 0:
        seconds, how = None, "each clip resampled whole to the window, as asked"
    elif cfg.window_seconds is not None:
        seconds, how = cfg.window_seconds, f"window of {cfg.window_seconds} s, as asked"
    else:
        seconds = autoconfig.window_seconds(train_set, fps)
        how = (f"window of {seconds} s: the median clip duration" if seconds is not None
               else "no frame rate in the data: each clip is resampled whole to the window")
    frames = cfg.frames or autoconfig.window_frames(seconds)
    how += f"; {frames} frames" + (", as asked" if cfg.frames else "")
    return dataclasses.replace(cfg.normalize, window_seconds=seconds, num_frames=frames), how


@dataclass(frozen=True)
class RunPlan:
    """What ``fit`` will do with a config and a dataset, decided before it trains."""

    layout: Layout
    splits: SplitPlan
    backbone: Checkpoint | None
    normalize: NormalizeConfig
    stream: str
    schedule: autoconfig.Schedule
    notes: dict[str, str]  # how the window and the schedule were chosen


def plan_run(cfg: TrainConfig, data: dict[str, Any]) -> RunPlan:
    layout = _resolve_layout(cfg, data)
    backbone = _backbone(cfg, layout)
    splits = plan_splits(data, cfg.train_split, cfg.val_split, cfg.test_split, cfg.val_fraction, cfg.seed,
                         FINE_TUNE_MIN_PER_CLASS if backbone is not None else MIN_PER_CLASS)
    norm, window_note = _settings(cfg, backbone, splits.train, _fps(data))
    schedule, schedule_note = autoconfig.make_schedule(len(splits.train), cfg.batch_size, cfg.steps, cfg.epochs,
                                                       backbone is not None, cfg.warmup, cfg.decay_at)
    stream = backbone.stream if backbone is not None else cfg.stream
    return RunPlan(layout, splits, backbone, norm, stream, schedule, {"window": window_note,
                                                                       "schedule": schedule_note})


def _fps(data: dict[str, Any]) -> float | None:
    return float(data["fps"]) if data.get("fps") else None


def fit(cfg: TrainConfig, data: dict[str, Any] | None = None, quiet: bool = False,
        checks: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train, validate and checkpoint every evaluation period; at the end calibrate, test and compare with the
    baselines. Returns the summary (also in ``metrics.json``). ``data`` is the loaded dataset, when the caller
    has it already; ``quiet`` prints nothing per period; ``checks`` (the mirror check's outcome) goes into
    ``choices.json``."""
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
    labels = class_names(data)
    run_plan = plan_run(cfg, data)
    layout, plan, backbone, norm, stream, schedule = (run_plan.layout, run_plan.splits, run_plan.backbone,
                                                      run_plan.normalize, run_plan.stream, run_plan.schedule)
    fps = _fps(data)
    choices = {"splits": plan.names, "split_notes": plan.notes, "window": run_plan.notes["window"],
               "schedule": dataclasses.asdict(schedule) | {"how": run_plan.notes["schedule"]},
               "normalize": norm.to_dict(), "augment": cfg.augment.to_dict(), "stream": stream,
               "init_from": cfg.init_from, "freeze": cfg.freeze, **(checks or {})}
    show = rank == 0 and not quiet

    train_set = SkeletonDataset(plan.train, layout, norm, stream, cfg.augment, cfg.seed, fps, len(labels))
    val_set = SkeletonDataset(plan.val, layout, norm, stream, fps=fps) if plan.val else None
    torch.manual_seed(cfg.seed)
    model = build_model(cfg, layout, len(labels), backbone).to(device)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=cfg.lr,
                                momentum=cfg.momentum, nesterov=True, weight_decay=cfg.weight_decay)
    dtype = autocast_dtype(cfg.precision, device, fine_tuning=cfg.init_from is not None)
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    choices["precision"] = str(dtype or torch.float32).removeprefix("torch.")

    out = Path(cfg.out)
    start_epoch, best, history = 0, -1.0, []
    if cfg.resume and (out / "last.pt").is_file():
        state = load_checkpoint(out / "last.pt", map_location=device)
        training = state.training_state
        if not training:
            raise CheckpointError(f"{out / 'last.pt'} holds no training state to resume from: start a new run "
                                  "with another --out")
        stored = {k: v for k, v in state.extra.get("train_config", {}).items() if k not in INCIDENTAL_SETTINGS}
        # a setting added since the run started is absent from it; at its default it changes nothing
        defaults = _config_summary(TrainConfig(data=cfg.data, out=cfg.out))
        current = {k: v for k, v in _config_summary(cfg).items()
                   if k not in INCIDENTAL_SETTINGS and (k in stored or v != defaults.get(k))}
        if stored != current:
            raise CheckpointError(f"{out} holds a run with other settings: resume it with the same options, or "
                                  "use another --out")
        model.load_state_dict(state.state_dict)
        optimizer.load_state_dict(training["optimizer"])
        if scaler is not None and training.get("scaler"):
            scaler.load_state_dict(training["scaler"])
        start_epoch, best, history = training["epoch"], training["best_top1"], training["history"]
        if show:
            print(f"resuming {out} after epoch {start_epoch}", file=sys.stderr)
    elif rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        write_text(out / "choices.json", json.dumps(choices, indent=1))
        for note in [*plan.notes, run_plan.notes["window"], f"schedule: {run_plan.notes['schedule']}"] if show else []:
            print(f"train: {note}", file=sys.stderr)

    train_model = nn.parallel.DistributedDataParallel(model) if world > 1 else model
    sampler = DistributedSampler(train_set, num_replicas=world, rank=rank, shuffle=True, seed=cfg.seed)
    train_loader = DataLoader(train_set, batch_size=cfg.batch_size // world, sampler=sampler,
                              num_workers=cfg.workers, pin_memory=device.type == "cuda",
                              persistent_workers=cfg.workers > 0)
    extra = {"train_config": _config_summary(cfg), "dataset": str(cfg.data), "splits": plan.names,
             "mirror_average": cfg.augment.mirror > 0}  # answer for a window and its mirror image (stfnet.mirror)
    if cfg.arms_free_margin is not None:
        extra["arms_free_margin"] = cfg.arms_free_margin

    for epoch in range(start_epoch, schedule.epochs):
        torch.manual_seed(cfg.seed + epoch)
        sampler.set_epoch(epoch)
        train_set.epoch = epoch
        metrics = train_one_epoch(train_model, train_loader, optimizer, cfg, schedule, epoch, device, scaler, show,
                                  dtype)
        last = epoch + 1 == schedule.epochs
        if rank == 0 and ((epoch + 1) % schedule.eval_every == 0 or last):
            metrics = {"epoch": epoch + 1, "step": (epoch + 1) * schedule.steps_per_epoch, **metrics}
            if val_set is not None:
                metrics |= evaluate(model, val_set, device, workers=cfg.workers)
            history.append(metrics)
            _write_metrics(out, history)
            ckpt = make_checkpoint(model, labels, stream, norm, extra | {"epoch": epoch + 1})
            if val_set is not None and metrics["val_top1"] > best:
                best = metrics["val_top1"]
                save_checkpoint(ckpt, out / "best.pt")
            ckpt.training_state = {"optimizer": optimizer.state_dict(), "epoch": epoch + 1, "best_top1": best,
                                   "history": history, "scaler": scaler.state_dict() if scaler else None}
            save_checkpoint(ckpt, out / "last.pt")
            val = f"  val {metrics['val_top1']:.4f}" if val_set is not None else ""
            if show:
                    print(f"epoch {epoch + 1}/{schedule.epochs}  step {metrics['step']}/{schedule.steps}  loss "
                      f"{metrics['train_loss']:.3f}  train {metrics['train_top1']:.3f}{val}  "
                      f"({metrics['samples_per_second']:.0f} samples/s)", file=sys.stderr, flush=True)
        if world > 1:
            dist.barrier()
    summary: dict[str, Any] = {}
    if rank == 0:
        if backbone is None:  # fine-tuning keeps its moving averages: see train/precise_bn.py
            windows = SkeletonDataset(plan.train, layout, norm, stream, fps=fps)  # the training clips, unaugmented
            recompute_batchnorm_statistics(model, DataLoader(windows, batch_size=cfg.batch_size, shuffle=True,
                                                             generator=torch.Generator().manual_seed(cfg.seed),
                                                             num_workers=cfg.workers), device)
        summary = finish(model, labels, train_set, val_set, plan.test, history, device, out, extra,
                         {"choices": choices}, show)
    if world > 1:
        dist.destroy_process_group()
    return summary


def finish(model: STFNet, labels: list[str], train_set: SkeletonDataset, val_set: SkeletonDataset | None,
           test: list[dict[str, Any]] | None, history: list[dict[str, Any]], device: torch.device, out: Path,
           extra: dict[str, Any], summary: dict[str, Any], show: bool = True) -> dict[str, Any]:
    """Calibrate on the validation split, evaluate the test split once, compare with the baselines, diagnose,
    write ``final.pt`` and the summary (``summary`` holds the run's choices already). The test samples are read
    here and nowhere else."""
    summary = {"final": history[-1] if history else {}, **summary}
    extra = dict(extra, min_confidence=default_min_confidence(len(labels)))
    # calibrated as the app will answer, but for one reading: the arms-free one's choice needs the temperature
    answering = make_checkpoint(model, labels, train_set.stream, train_set.norm, extra).build_model(
        device, arms_free=False)
    val_predicted = None
    if val_set is not None:
        logits, targets = predict(answering, val_set, device)
        extra["temperature"] = temperature = fit_temperature(logits, targets)
        val_predicted = logits.argmax(1).tolist()
        # as the run ends (the last period's figure came before the BatchNorm statistics were made precise)
        summary["val"] = {"samples": len(val_set.annotations), "top1": topk_accuracy(logits, targets, 1)}
        extra["views"] = measure_views(model, val_set)  # which attention views the GUI opens on
        summary["calibration"] = {"temperature": temperature,
                                  "val_ece_before": expected_calibration_error(logits, targets, 1.0),
                                  "val_ece_after": expected_calibration_error(logits, targets, temperature)}
    if extra.get("arms_free_margin") is not None:
        answering = make_checkpoint(model, labels, train_set.stream, train_set.norm, extra).build_model(device)
    test_set = None
    if test:
        test_set = SkeletonDataset(test, train_set.layout, train_set.norm, train_set.stream, fps=train_set.fps)
        logits, targets = predict(answering, test_set, device)
        summary["test"] = {"samples": len(test_set.annotations), "top1": topk_accuracy(logits, targets, 1),
                           "top5": topk_accuracy(logits, targets, 5),
                           "uncertain_at_default": threshold_effect(logits, targets, extra.get("temperature", 1.0),
                                                                    extra["min_confidence"])}
    evaluated = {"val": val_set.annotations if val_set else [], "test": test_set.annotations if test_set else []}
    summary["baselines"] = baseline_accuracies(train_set.annotations, evaluated, train_set.layout, train_set.norm)
    summary["diagnostics"] = diagnose(history, val_predicted, labels)
    save_checkpoint(make_checkpoint(model, labels, train_set.stream, train_set.norm, extra), out / "final.pt")
    _write_metrics(out, history, summary)
    if show:
        _print_summary(summary)
    return summary


def _print_summary(summary: dict[str, Any]) -> None:
    lines = []
    for split in ("val", "test"):
        model_top1 = summary.get(split, {}).get("top1")
        base = summary["baselines"].get(split)
        if model_top1 is None or base is None:
            continue
        lines.append(f"{split}: model {model_top1:.1%}  |  1-nearest-neighbour {base['nn1']:.1%}  |  nearest class "
                     f"mean {base['class_mean']:.1%}" + ("  <- the model does not beat the 1-NN baseline"
                                                          if model_top1 <= base["nn1"] and model_top1 < 1.0 else ""))
    for warning in summary["diagnostics"]:
        lines.append(f"warning ({warning['kind']}): {warning['message']}")
    for line in lines:
        print(f"train: {line}", file=sys.stderr, flush=True)


def _config_summary(cfg: TrainConfig) -> dict[str, Any]:
    """The run's settings as plain data, for the checkpoint and the metrics."""
    d = dataclasses.asdict(dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, layout="")))
    d["model"].pop("layout")
    return json.loads(json.dumps(d, default=list))


# --- the mirror check -----------------------------------------------------------------------------------------------

MIRROR_CHECK_SHARE = 0.2  # a check run takes this share of the full run's steps
MIRROR_CHECK_MIN_STEPS = 150
# How much a model trained without mirroring loses on mirrored validation samples. Below the first bound, mirroring
# is harmless; above the second, left and right define classes (UTD-MHAD 3D: 41 points). In between, a model
# loses accuracy on mirror images it never saw even when no class names a side (Penn Action: 11 points, mostly
# right-handed players), so a second run, with mirroring, decides by its validation accuracy.
MIRROR_DROP_BOUNDS = (0.05, 0.25)


def earlier_mirror_choice(cfg: TrainConfig) -> tuple[float, dict[str, Any]] | None:
    """On ``--resume``, the mirror check's outcome as the run recorded it, so that it is not run again."""
    path = Path(cfg.out) / "choices.json"
    if not (cfg.resume and (Path(cfg.out) / "last.pt").is_file() and path.is_file()):
        return None
    try:
        outcome = json.loads(path.read_text())["mirror_check"]
        return float(outcome["mirror"]), outcome
    except (ValueError, KeyError, TypeError):
        return None


def mirror_decision(plain: float, mirrored: float, with_mirroring: float | None = None) -> float | None:
    """Mirroring (0.5) or not (0.0) from the check runs' validation accuracies: ``plain`` and ``mirrored`` of the
    run without mirroring, ``with_mirroring`` of the run with it (answering for each window and its mirror image
    together, as it would in the app); None when that run must decide."""
    low, high = MIRROR_DROP_BOUNDS
    drop = plain - mirrored
    if drop <= low:
        return 0.5
    if drop > high:
        return 0.0
    if with_mirroring is None:
        return None
    return 0.5 if with_mirroring >= plain else 0.0


def choose_mirror(cfg: TrainConfig, data: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    """Whether left and right may be swapped in training (0.5) or not (0), checked on the data: a short run
    without mirroring, scored on the validation split as it is and mirrored (``mirror_decision``); when that does
    not settle it, a second short run with mirroring. Classes that depend on the side (swipe left / swipe right)
    need mirroring off; otherwise it stays, as it covers a camera's mirror image and people doing the action the
    other way round."""
    plan = plan_run(cfg, data)
    if not plan.splits.val:
        return 0.5, {"mirror": 0.5, "how": "no validation split to check on: mirroring kept"}
    steps = max(MIRROR_CHECK_MIN_STEPS, round(MIRROR_CHECK_SHARE * plan.schedule.steps))
    print(f"train: checking whether left and right matter: {steps} steps without mirroring", file=sys.stderr,
          flush=True)
    plain, mirrored, _ = _mirror_check_run(cfg, data, plan, steps, 0.0, "mirror-check")
    outcome: dict[str, Any] = {"val_top1": round(plain, 4), "val_top1_mirrored": round(mirrored, 4)}
    low, high = MIRROR_DROP_BOUNDS
    how = (f"a run of {steps} steps without mirroring, scored on the validation split as it is and mirrored: "
           f"mirroring is kept when mirrored samples lose at most {low:.0%}, off when they lose more than {high:.0%}")
    mirror = mirror_decision(plain, mirrored)
    if mirror is None:
        print(f"train: mirrored samples lose {plain - mirrored:.0%}: {steps} steps with mirroring decide",
              file=sys.stderr, flush=True)
        *_, with_mirroring = _mirror_check_run(cfg, data, plan, steps, 0.5, "mirror-check-on")
        mirror = mirror_decision(plain, mirrored, with_mirroring)
        outcome["val_top1_with_mirroring"] = round(with_mirroring, 4)
        how += ("; in between, a second run with mirroring: kept if it answers the validation split (for each "
                "window and its mirror image together, as the app would) at least as well")
    return mirror, {"mirror": mirror, **outcome, "how": how}


def _mirror_check_run(cfg: TrainConfig, data: dict[str, Any], plan: RunPlan, steps: int, mirror: float,
                      folder: str) -> tuple[float, float, float]:
    """Validation top-1 of a short run: on samples as they are, mirrored, and answered for both together (the
    logits averaged, as a model trained with mirroring answers in the app)."""
    check = dataclasses.replace(cfg, out=str(Path(cfg.out) / folder), steps=steps, epochs=None,
                                augment=autoconfig.with_mirror(cfg.augment, mirror), test_split=None, resume=True)
    fit(check, data, quiet=True)
    final = load_checkpoint(Path(check.out) / "final.pt")
    model, device = final.build_model("cpu", mirror_average=False, arms_free=False), torch.device("cpu")
    val = SkeletonDataset(plan.splits.val, plan.layout, final.normalize, final.stream, fps=_fps(data))
    plain, labels = predict(model, val, device)
    mirrored, _ = predict(model, MirroredDataset(val), device)
    for path in Path(check.out).glob("*.pt"):  # only the figures are worth keeping
        path.unlink()
    return (topk_accuracy(plain, labels, 1), topk_accuracy(mirrored, labels, 1),
            topk_accuracy(plain + mirrored, labels, 1))


class MirroredDataset(torch.utils.data.Dataset):
    """A dataset's evaluation windows, mirrored (x negated, left and right joints swapped)."""

    def __init__(self, dataset: SkeletonDataset) -> None:
        self.dataset = dataset
        self.labels = dataset.labels
        self.clip_scores = dataset.clip_scores

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        x, y = self.dataset[index]
        return torch.from_numpy(mirror(x.numpy(), self.dataset.layout)), y


# --- command line -------------------------------------------------------------------------------------------------

AUGMENT_FLAGS = {  # option -> AugmentConfig field; unset options take the data's defaults (autoconfig)
    "speed": "speed", "loop": "loop", "rotate": "rotate", "scale_aug": "scale", "squash": "squash",
    "shift": "shift", "jitter": "jitter", "drop_joint": "drop_joint", "drop_lower_body": "drop_lower_body",
    "drop_arms": "drop_arms", "swap_arms": "swap_arms",
    "out_of_frame": "out_of_frame", "hip_width": "hip_width", "shoulder_width": "shoulder_width",
    "mirror": "mirror", "crop": "crop", "vertical": "vertical",
}


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1 (a batch of 0 or a run of 0 steps trains nothing)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = TrainConfig(data="", out="")
    parser.add_argument("--data", required=True, help="dataset file (pyskl annotation pickle)")
    parser.add_argument("--out", required=True, help="run folder for checkpoints and metrics")
    parser.add_argument("--train-split", default=d.train_split,
                        help="training split (default: train, xsub_train, xview_train or xset_train)")
    parser.add_argument("--val-split", default=None,
                        help="validation split (default: carved from the training split, --val-fraction of it)")
    parser.add_argument("--test-split", default=d.test_split,
                        help="split evaluated once at the end (default: the training split's counterpart, e.g. "
                             "xsub_test; 'none' for none)")
    parser.add_argument("--val-fraction", type=float, default=d.val_fraction)
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
    model.add_argument("--init-from", metavar="CKPT",
                       help="fine-tune from this checkpoint (its layout and preprocessing, a new classifier)")
    model.add_argument("--freeze", type=int,
                       help=f"fine-tuning: keep the first N of the 10 blocks fixed (default: "
                            f"{autoconfig.FINE_TUNE_FREEZE})")
    prep = parser.add_argument_group("input")
    prep.add_argument("--frames", type=int, help="frames in one window (default: 16 per second of window)")
    prep.add_argument("--window-seconds", type=float,
                      help="seconds one window covers (default: the median clip duration; 0: each clip whole)")
    prep.add_argument("--persons", type=int, default=d.normalize.num_persons)
    prep.add_argument("--coords", type=int, choices=(2, 3), help="coordinates per joint (default: the data's)")
    prep.add_argument("--use-score", action=argparse.BooleanOptionalAction,
                      help="add the joint score as a channel (default: on for 2D data)")
    prep.add_argument("--center", default=d.normalize.center, choices=("first_frame", "frame", "none"))
    prep.add_argument("--scale", default=d.normalize.scale, choices=("bones", "none"))
    prep.add_argument("--ignore-joints", type=int, nargs="*", default=None,
                      help="joints always treated as unseen (default: joints the data never has)")
    aug = parser.add_argument_group("augmentation (defaults: chosen for 2D or 3D data; see choices.json)")
    aug.add_argument("--speed", type=float, nargs=2, metavar=("MIN", "MAX"),
                     help="the window covers its duration times a factor in this range")
    aug.add_argument("--loop", type=float, help="chance that a clip shorter than the window repeats")
    aug.add_argument("--crop", type=float, nargs=2, metavar=("MIN", "MAX"),
                     help="whole-clip windows: share of the clip a random crop keeps")
    aug.add_argument("--rotate", type=float, help="max rotation in degrees")
    aug.add_argument("--vertical", type=int, choices=(0, 1, 2), help="3D: the axis pointing up (default: found)")
    aug.add_argument("--scale-aug", type=float, help="max relative scale change")
    aug.add_argument("--squash", type=float, help="2D: max relative shrink of the horizontal axis")
    aug.add_argument("--shift", type=float)
    aug.add_argument("--jitter", type=float)
    aug.add_argument("--drop-joint", type=float)
    aug.add_argument("--drop-lower-body", type=float)
    aug.add_argument("--drop-arms", type=float, help="chance that both arms are unseen")
    aug.add_argument("--swap-arms", type=float,
                     help="chance that both arms move as in another clip, whose label gets the arms' share")
    aug.add_argument("--out-of-frame", type=float, help="chance that a picture border cuts the body")
    aug.add_argument("--hip-width", type=float, nargs=2, metavar=("MIN", "MAX"))
    aug.add_argument("--shoulder-width", type=float, nargs=2, metavar=("MIN", "MAX"))
    aug.add_argument("--mirror", type=float,
                     help="chance of a left-right mirror (default: 0.5 unless a short check shows it hurts)")
    opt = parser.add_argument_group("optimisation (default schedule: scaled to the dataset's size)")
    opt.add_argument("--steps", type=positive_int, help="optimiser steps in all")
    opt.add_argument("--epochs", type=positive_int, help="epochs in all (instead of --steps)")
    opt.add_argument("--batch-size", type=positive_int,
                     help=f"samples per step (default: {d.batch_size}; {autoconfig.FINE_TUNE_BATCH} when fine-tuning)")
    opt.add_argument("--lr", type=float, help="learning rate (default: 0.1, also when fine-tuning)")
    opt.add_argument("--weight-decay", type=float, default=d.weight_decay)
    opt.add_argument("--warmup", type=float, default=d.warmup, help="share of the steps spent warming up")
    opt.add_argument("--decay-at", type=float, nargs="*", default=list(d.decay_at),
                     help="shares of the steps where the learning rate is divided by 10")
    opt.add_argument("--label-smoothing", type=float, default=d.label_smoothing)
    opt.add_argument("--seed", type=int, default=d.seed)
    opt.add_argument("--workers", type=int, default=d.workers)
    opt.add_argument("--device", default=d.device, help="auto, cpu, cuda, cuda:1, ...")
    opt.add_argument("--precision", default=d.precision, choices=PRECISIONS,
                     help="auto: float16 on CUDA; bfloat16 when fine-tuning on a CPU with bfloat16 instructions; "
                          "else float32")
    parser.add_argument("--arms-free-margin", type=float, metavar="MARGIN",
                        help="the model also reads every window with the arms hidden and answers with that reading "
                             "when its top probability is higher by MARGIN (the exercise model: 0.2; joint stream "
                             "only; default: off)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")


def _unseen_joints(annotations: list[dict[str, Any]]) -> tuple[int, ...]:
    """Joints with score 0 in every frame of every sample: the data never has them (Penn Action's eyes)."""
    seen = None
    for ann in annotations:
        score = ann.get("keypoint_score")
        if score is None:
            return ()
        here = (np.asarray(score) > 0).any(axis=(0, 1))
        seen = here if seen is None else seen | here
    return tuple(int(j) for j in np.flatnonzero(~seen)) if seen is not None else ()


def config_from_args(args: argparse.Namespace, data: dict[str, Any]) -> TrainConfig:
    """The run's config: the user's options over defaults read from the training split (the mirror check runs
    in ``run``)."""
    if not data["annotations"]:
        raise UserError(f"{args.data} holds no samples")
    training = split_annotations(data, resolve_train_split(data, args.train_split))
    if not training:
        raise UserError(f"the training split of {args.data} holds no samples")
    channels = int(np.shape(training[0]["keypoint"])[-1])  # coordinates per joint
    coords = args.coords or min(channels, 3)
    use_score = args.use_score if args.use_score is not None else channels == 2
    vertical = args.vertical if args.vertical is not None else (
        autoconfig.vertical_axis(training, coords) if coords == 3 else 1)
    augment = autoconfig.default_augment(coords, vertical)
    if args.init_from:
        augment = autoconfig.fine_tune_augment(augment)
    given = {field_name: getattr(args, flag) for flag, field_name in AUGMENT_FLAGS.items()
             if getattr(args, flag) is not None}
    augment = dataclasses.replace(augment, **{k: tuple(v) if isinstance(v, list) else v for k, v in given.items()})
    variant = {"graph_mask": False, "mcf": False, "tdf": False} if args.model == "stgcn" else {
        "graph_mask": not args.no_mask, "mcf": not args.no_mcf, "tdf": not args.no_tdf}
    ignore = args.ignore_joints if args.ignore_joints is not None else _unseen_joints(training)
    if args.arms_free_margin is not None and (args.stream != "joint" or not 0 <= args.arms_free_margin < 1):
        raise UserError("--arms-free-margin needs the joint stream and a margin from 0 to below 1 (a difference "
                        f"of probabilities), got {args.arms_free_margin} with the {args.stream} stream")
    return TrainConfig(
        data=args.data, out=args.out, train_split=args.train_split, val_split=args.val_split,
        test_split=None if args.test_split == "none" else args.test_split, val_fraction=args.val_fraction,
        layout=args.layout, stream=args.stream,
        model=STFNetConfig(tdf_motion=args.tdf_motion, num_grains=args.grains, base_channels=args.base_channels,
                           dropout=args.dropout, mcf_identity_init=not args.mcf_full_init, **variant),
        normalize=NormalizeConfig(num_persons=args.persons, coords=coords,
                                  use_score=use_score, center=args.center, scale=args.scale,
                                  ignore_joints=tuple(ignore)),
        window_seconds=args.window_seconds, frames=args.frames,
        augment=augment, steps=args.steps, epochs=args.epochs,
        batch_size=args.batch_size if args.batch_size is not None else (
            autoconfig.FINE_TUNE_BATCH if args.init_from else TrainConfig.batch_size),
        # 0.1 also when fine-tuning: a fresh classifier on a few samples needs it (5-shot UTD-MHAD from the
        # exercise model: 74.5 % at 0.1, 70.4 % at 0.05, 54.2 % at 0.01, in the same 150 steps).
        lr=args.lr if args.lr is not None else 0.1, weight_decay=args.weight_decay,
        warmup=args.warmup, decay_at=tuple(args.decay_at), label_smoothing=args.label_smoothing,
        init_from=args.init_from,
        freeze=args.freeze if args.freeze is not None else (autoconfig.FINE_TUNE_FREEZE if args.init_from else 0),
        seed=args.seed, workers=args.workers, resume=args.resume, device=args.device,
        arms_free_margin=args.arms_free_margin, precision=args.precision,
    )


def run(args: argparse.Namespace) -> int:
    data = load_dataset(args.data)
    cfg = config_from_args(args, data)
    checks = None
    if args.mirror is None and int(os.environ.get("WORLD_SIZE", "1")) == 1:  # under torchrun: mirroring kept
        mirror, outcome = earlier_mirror_choice(cfg) or choose_mirror(cfg, data)
        cfg = dataclasses.replace(cfg, augment=autoconfig.with_mirror(cfg.augment, mirror))
        checks = {"mirror_check": outcome}
    summary = fit(cfg, data, checks=checks)
    if summary and int(os.environ.get("RANK", "0")) == 0:
        figures = {"val_top1": summary.get("val", {}).get("top1"), "test_top1": summary.get("test", {}).get("top1"),
                   "test_nn1": summary["baselines"].get("test", {}).get("nn1"), "out": cfg.out}
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()}))
    return 0
