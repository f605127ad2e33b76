"""`python main.py bench train`: training throughput (samples/second) of STF-Net against two ST-GCNs.

The yardsticks are the original ST-GCN (``benchmarks/original_stgcn.py``, which does not change when the project's
model does) and the project's own ST-GCN config (``stgcn_config``). One training step is forward, cross-entropy,
backward and an SGD step on a random batch (default 16 samples of ``(3, 100, 25, 2)``, NTU-sized). After a few
warm-up steps the models take timed steps in turn, so a busy machine slows them alike; the report gives the median
step time of each and the ratios of their throughputs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from benchmarks.original_stgcn import OriginalSTGCN
from stfnet.layouts import get_layout
from stfnet.model import STFNet, STFNetConfig, stgcn_config
from train.loop import optimization_step


def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
               scaler: torch.amp.GradScaler | None) -> float:
    """Seconds for one optimisation step (synchronised on CUDA)."""
    start = time.perf_counter()
    optimization_step(model, optimizer, x, y, scaler)
    if x.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def benchmark(batch_size: int = 16, frames: int = 100, persons: int = 2, layout: str = "ntu25",
              num_classes: int = 60, base_channels: int = 64, warmup: int = 3, steps: int = 10,
              device: str = "cpu") -> dict:
    joints = get_layout(layout).num_joints
    x = torch.randn(batch_size, 3, frames, joints, persons, device=device)  # (N, C, T, V, M)
    y = torch.randint(0, num_classes, (batch_size,), device=device)
    models = {"stfnet": STFNet(STFNetConfig(layout=layout, num_classes=num_classes, base_channels=base_channels)),
              "stgcn": STFNet(stgcn_config(layout=layout, num_classes=num_classes, base_channels=base_channels)),
              "original_stgcn": OriginalSTGCN(layout, num_classes, num_persons=persons, base_channels=base_channels)}
    runs = {}
    for name, model in models.items():
        model = model.to(device).train()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
        scaler = torch.amp.GradScaler("cuda") if device.startswith("cuda") else None
        runs[name] = (model, optimizer, scaler)
    times: dict[str, list[float]] = {name: [] for name in runs}
    for i in range(warmup + steps):
        for name, (model, optimizer, scaler) in runs.items():
            seconds = train_step(model, optimizer, x, y, scaler)
            if i >= warmup:
                times[name].append(seconds)
    report: dict = {"device": device, "threads": torch.get_num_threads(), "input": [batch_size, 3, frames, joints,
                    persons], "warmup_steps": warmup, "timed_steps": steps}
    for name, t in times.items():
        median = statistics.median(t)
        report[name] = {"samples_per_second": round(batch_size / median, 2), "step_seconds_median": round(median, 4),
                        "parameters": sum(p.numel() for p in runs[name][0].parameters())}
    for yardstick in ("stgcn", "original_stgcn"):  # throughput ratios: above 1 means STF-Net trains faster
        report[f"ratio_stfnet_to_{yardstick}"] = round(report["stfnet"]["samples_per_second"]
                                                       / report[yardstick]["samples_per_second"], 3)
    return report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--persons", type=int, default=2)
    parser.add_argument("--layout", default="ntu25")
    parser.add_argument("--classes", type=int, default=60)
    parser.add_argument("--base-channels", type=int, default=64, help="width of the first stage (64 as in the paper)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per model")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per model")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, ...")
    parser.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's choice)")


def run(args: argparse.Namespace) -> int:
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    if args.threads:
        torch.set_num_threads(args.threads)
    report = benchmark(args.batch_size, args.frames, args.persons, args.layout, args.classes, args.base_channels,
                       args.warmup, args.steps, device)
    print(json.dumps(report, indent=2))
    return 0
