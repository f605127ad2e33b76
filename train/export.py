"""`python main.py export --checkpoint CKPT --format onnx|torchscript`: a deployable model file.

The exported model takes the checkpoint's model input ``(N, C, T, V, M)`` with ``T`` and ``M`` fixed to the
checkpoint's window and persons (the batch size is free) and returns the logits. A JSON file beside it records
what a deployment needs to build that input: labels, layout, stream and normalisation options. After writing,
the export is run once on a random input and its output compared with the PyTorch model's.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
import torch

from stfnet.checkpoint import Checkpoint, load_checkpoint
from stfnet.errors import UserError

FORMATS = {"onnx": ".onnx", "torchscript": ".ts"}
TOLERANCE = 1e-4


def example_input(ckpt: Checkpoint, batch: int = 1) -> torch.Tensor:
    norm = ckpt.normalize
    return torch.randn(batch, norm.in_channels, norm.num_frames, ckpt.layout.num_joints, norm.num_persons)


def export_torchscript(model: torch.nn.Module, x: torch.Tensor, path: Path) -> None:
    with torch.no_grad():
        torch.jit.trace(model, x).save(str(path))


def export_onnx(model: torch.nn.Module, x: torch.Tensor, path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript-based exporter announces its deprecation
        torch.onnx.export(model, (x,), str(path), input_names=["skeleton"], output_names=["logits"],
                          dynamic_axes={"skeleton": {0: "batch"}, "logits": {0: "batch"}}, dynamo=False)


def run_exported(path: Path, fmt: str, x: torch.Tensor) -> np.ndarray:
    """Logits of the exported file for ``x``."""
    if fmt == "torchscript":
        with torch.no_grad():
            return torch.jit.load(str(path))(x).numpy()
    try:
        import onnxruntime
    except ImportError:
        raise UserError("checking an ONNX export needs onnxruntime: pip install onnxruntime "
                        "(or pass --no-check)") from None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"skeleton": x.numpy()})[0]


def export(ckpt: Checkpoint, fmt: str, out: Path, check: bool = True) -> float | None:
    """Write the export and its metadata; returns the largest output difference to PyTorch when checked."""
    model = ckpt.build_model("cpu")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        (export_onnx if fmt == "onnx" else export_torchscript)(model, example_input(ckpt), tmp)
        diff = None
        if check:
            x = example_input(ckpt, batch=2)
            with torch.no_grad():
                expected = model(x).numpy()
            diff = float(np.abs(run_exported(tmp, fmt, x) - expected).max())
            if diff > TOLERANCE:
                raise UserError(f"the {fmt} export differs from the PyTorch model by {diff:.2e}; nothing written")
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    meta = {"format": fmt, "input": "skeleton (N, C, T, V, M)", "output": "logits (N, classes)",
            "labels": ckpt.labels, "stream": ckpt.stream, "normalize": ckpt.normalize.to_dict(),
            "layout": ckpt.layout.to_dict()}
    out.with_suffix(out.suffix + ".json").write_text(json.dumps(meta, indent=1))
    return diff


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="checkpoint to export")
    parser.add_argument("--format", required=True, choices=sorted(FORMATS))
    parser.add_argument("--out", help="output file (default: the checkpoint's name with .onnx or .ts)")
    parser.add_argument("--no-check", action="store_true", help="skip comparing the export with PyTorch")


def run(args: argparse.Namespace) -> int:
    ckpt = load_checkpoint(args.checkpoint)
    out = Path(args.out) if args.out else Path(args.checkpoint).with_suffix(FORMATS[args.format])
    diff = export(ckpt, args.format, out, check=not args.no_check)
    checked = "" if diff is None else f"; largest difference to PyTorch {diff:.1e}"
    print(f"wrote {out} and {out.name}.json{checked}")
    return 0
