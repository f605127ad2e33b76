"""`python main.py bench model`: forward latency and parameter count of STF-Net against two ST-GCNs.

The yardsticks are the original ST-GCN (``benchmarks/original_stgcn.py``, a plain implementation that does not
change when the project's model does) and the project's own ST-GCN config (``stgcn_config``: STF-Net's backbone
without mask, MCF and TDF, so it gains from every backbone speed-up too). STF-Net and the project's ST-GCN run both
eager and as ``fuse_for_inference`` makes them. All models run interleaved in one process, so a busy machine slows
them alike and their ratios stay meaningful; the ratios, not the absolute times, are the figures to compare across
machines.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from benchmarks.original_stgcn import OriginalSTGCN
from stfnet.inference import fuse_for_inference
from stfnet.model import STFNet, STFNetConfig, stgcn_config

# name -> (layout, classes, input shape (N, C, T, V, M))
CASES = {
    "live_window": ("openpose18", 27, (1, 3, 64, 18, 1)),
    "ntu_batch": ("ntu25", 60, (16, 3, 100, 25, 2)),
}
PARAMETER_CASES = {"ntu60": ("ntu25", 60), "kinetics400": ("openpose18", 400), "utd27_live": ("openpose18", 27)}
# (model, yardstick) pairs whose time ratio is reported
RATIOS = [("stfnet", "original_stgcn"), ("stfnet_fused", "original_stgcn"), ("stfnet", "stgcn"),
          ("stfnet_fused", "stgcn_fused")]


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


def case_models(layout: str, classes: int, persons: int, device: str) -> dict[str, torch.nn.Module]:
    """The five models timed on one case, in eval mode on ``device``."""
    stfnet = STFNet(STFNetConfig(layout=layout, num_classes=classes)).to(device).eval()
    stgcn = STFNet(stgcn_config(layout=layout, num_classes=classes)).to(device).eval()
    return {"stfnet": stfnet, "stfnet_fused": fuse_for_inference(stfnet), "stgcn": stgcn,
            "stgcn_fused": fuse_for_inference(stgcn),
            "original_stgcn": OriginalSTGCN(layout, classes, num_persons=persons).to(device).eval()}


def benchmark(repeats: int, warmup: int, devices: list[str], cases: dict = CASES) -> dict:
    report: dict = {"parameters": {}, "latency_ms": {}, "threads": torch.get_num_threads()}
    for name, (layout, classes) in PARAMETER_CASES.items():
        report["parameters"][name] = {
            "stfnet": count_parameters(STFNet(STFNetConfig(layout=layout, num_classes=classes))),
            "stgcn": count_parameters(STFNet(stgcn_config(layout=layout, num_classes=classes))),
            "original_stgcn": count_parameters(OriginalSTGCN(layout, classes)),
        }
    for device in devices:
        for case, (layout, classes, shape) in cases.items():
            models = case_models(layout, classes, shape[-1], device)
            x = torch.randn(*shape, device=device)
            ms = interleaved_latency(models, x, repeats, warmup, amp=device == "cuda")
            report["latency_ms"][f"{device}/{case}"] = {
                "input": list(shape), **{k: round(v, 2) for k, v in ms.items()},
                **{f"ratio_{a}_to_{b}": round(ms[a] / ms[b], 3) for a, b in RATIOS},
            }
    return report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeats", type=int, default=30, help="timed forward passes per model and case")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--device", action="append", help="cpu, cuda (default: cpu, and cuda when present)")
    parser.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's choice)")
    parser.add_argument("--case", action="append", choices=sorted(CASES), help="only these cases (default: all)")


def run(args: argparse.Namespace) -> int:
    devices = args.device or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    if args.threads:
        torch.set_num_threads(args.threads)
    cases = {name: CASES[name] for name in args.case} if args.case else CASES
    print(json.dumps(benchmark(args.repeats, args.warmup, devices, cases), indent=2))
    return 0
