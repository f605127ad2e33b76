"""`python main.py bench model`: forward latency and parameter count of STF-Net against two ST-GCNs.

The yardsticks are the original ST-GCN (``benchmarks/original_stgcn.py``, a plain implementation that does not
change when the project's model does) and the project's own ST-GCN config (``stgcn_config``: STF-Net's backbone
without mask, MCF and TDF, so it gains from every backbone speed-up too). STF-Net and the project's ST-GCN run both
eager and as ``fuse_for_inference`` makes them; ``--modules`` adds where STF-Net's time goes, module by module. All
models run interleaved in one process, so a busy machine slows them alike and their ratios stay meaningful; the
ratios, not the absolute times, are the figures to compare across machines.
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


@torch.no_grad()
def module_costs(model: torch.nn.Module, x: torch.Tensor, repeats: int, warmup: int) -> dict[str, float]:
    """Median milliseconds per forward pass spent in each kind of module, summed over the blocks: SCN, MCF, TDF,
    and the rest of each block (temporal convolution, residual, ReLU), timed with hooks."""
    starts: dict[int, float] = {}
    spent = {"scn": 0.0, "mcf": 0.0, "tdf": 0.0, "block": 0.0}

    hooks = []

    def timed(kind: str, module: torch.nn.Module) -> None:
        hooks.append(module.register_forward_pre_hook(lambda m, _: starts.__setitem__(id(m), time.perf_counter())))
        hooks.append(module.register_forward_hook(
            lambda m, _i, _o: spent.__setitem__(kind, spent[kind] + time.perf_counter() - starts[id(m)])))

    for block in model.blocks:
        timed("block", block)
        for kind in ("scn", "mcf", "tdf"):
            if getattr(block, kind) is not None:
                timed(kind, getattr(block, kind))
    samples: dict[str, list[float]] = {kind: [] for kind in ("scn", "mcf", "tdf", "temporal_conv", "total")}
    for i in range(warmup + repeats):
        for kind in spent:
            spent[kind] = 0.0
        start = time.perf_counter()
        model(x)
        total = time.perf_counter() - start
        if i >= warmup:
            for kind in ("scn", "mcf", "tdf"):
                samples[kind].append(spent[kind] * 1000)
            samples["temporal_conv"].append((spent["block"] - spent["scn"] - spent["mcf"] - spent["tdf"]) * 1000)
            samples["total"].append(total * 1000)
    for hook in hooks:
        hook.remove()
    return {kind: round(statistics.median(t), 2) for kind, t in samples.items()}


def case_models(layout: str, classes: int, persons: int, device: str) -> dict[str, torch.nn.Module]:
    """The five models timed on one case, in eval mode on ``device``."""
    stfnet = STFNet(STFNetConfig(layout=layout, num_classes=classes)).to(device).eval()
    stgcn = STFNet(stgcn_config(layout=layout, num_classes=classes)).to(device).eval()
    return {"stfnet": stfnet, "stfnet_fused": fuse_for_inference(stfnet), "stgcn": stgcn,
            "stgcn_fused": fuse_for_inference(stgcn),
            "original_stgcn": OriginalSTGCN(layout, classes, num_persons=persons).to(device).eval()}


def benchmark(repeats: int, warmup: int, devices: list[str], cases: dict = CASES, modules: bool = False) -> dict:
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
            if modules:
                report.setdefault("module_ms", {})[f"{device}/{case}"] = {
                    name: module_costs(models[name], x, repeats, warmup) for name in ("stfnet", "stfnet_fused")}
    return report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeats", type=int, default=30, help="timed forward passes per model and case")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--device", action="append", help="cpu, cuda (default: cpu, and cuda when present)")
    parser.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's choice)")
    parser.add_argument("--case", action="append", choices=sorted(CASES), help="only these cases (default: all)")
    parser.add_argument("--modules", action="store_true",
                        help="also time SCN, MCF, TDF and the temporal convolution of STF-Net inside its blocks")


def run(args: argparse.Namespace) -> int:
    devices = args.device or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    if args.threads:
        torch.set_num_threads(args.threads)
    cases = {name: CASES[name] for name in args.case} if args.case else CASES
    print(json.dumps(benchmark(args.repeats, args.warmup, devices, cases, args.modules), indent=2))
    return 0
