"""`python main.py bench model`: forward latency and parameter count, STF-Net against the ST-GCN baseline.

Both models run interleaved in one process, so a busy machine slows both alike and their ratio stays
meaningful; the ratio, not the absolute time, is the figure to compare across machines.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from stfnet.model import STFNet, STFNetConfig, stgcn_config

# name -> (layout, classes, input shape (N, C, T, V, M))
CASES = {
    "live_window": ("openpose18", 27, (1, 3, 64, 18, 1)),
    "ntu_batch": ("ntu25", 60, (16, 3, 100, 25, 2)),
}
PARAMETER_CASES = {"ntu60": ("ntu25", 60), "kinetics400": ("openpose18", 400), "utd27_live": ("openpose18", 27)}


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def interleaved_latency(models: dict[str, torch.nn.Module], x: torch.Tensor, repeats: int, warmup: int,
                        amp: bool) -> dict[str, float]:
    """Median milliseconds per forward pass of each model, timing them in turn on the same input."""
    times: dict[str, list[float]] = {name: [] for name in models}
    for i in range(warmup + repeats):
        for name, model in models.items():
            start = time.perf_counter()
            with torch.autocast(x.device.type, enabled=amp):
                model(x)
            if x.device.type == "cuda":
                torch.cuda.synchronize()
            if i >= warmup:
                times[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(t) for name, t in times.items()}


def benchmark(repeats: int, warmup: int, devices: list[str]) -> dict:
    report: dict = {"parameters": {}, "latency_ms": {}, "threads": torch.get_num_threads()}
    for name, (layout, classes) in PARAMETER_CASES.items():
        report["parameters"][name] = {
            "stfnet": count_parameters(STFNet(STFNetConfig(layout=layout, num_classes=classes))),
            "stgcn": count_parameters(STFNet(stgcn_config(layout=layout, num_classes=classes))),
        }
    for device in devices:
        for case, (layout, classes, shape) in CASES.items():
            models = {
                "stfnet": STFNet(STFNetConfig(layout=layout, num_classes=classes)).to(device).eval(),
                "stgcn": STFNet(stgcn_config(layout=layout, num_classes=classes)).to(device).eval(),
            }
            x = torch.randn(*shape, device=device)
            ms = interleaved_latency(models, x, repeats, warmup, amp=device == "cuda")
            report["latency_ms"][f"{device}/{case}"] = {
                "input": list(shape), **{k: round(v, 2) for k, v in ms.items()},
                "ratio_stfnet_to_stgcn": round(ms["stfnet"] / ms["stgcn"], 3),
            }
    return report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeats", type=int, default=30, help="timed forward passes per model and case")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--device", action="append", help="cpu, cuda (default: cpu, and cuda when present)")


def run(args: argparse.Namespace) -> int:
    devices = args.device or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    print(json.dumps(benchmark(args.repeats, args.warmup, devices), indent=2))
    return 0
