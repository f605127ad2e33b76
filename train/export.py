"""`python main.py export --model NAME_OR_PATH --format onnx|torchscript`: a deployable model file.

The exported model takes the checkpoint's model input ``(N, C, T, V, M)`` with ``T`` and ``M`` fixed to the
checkpoint's window and persons (the batch size is free) and returns the logits. A JSON file beside it records
what a deployment needs to build that input: labels, layout, stream and normalisation options. After writing,
the export is run once on a random input and its output compared with the PyTorch model's, relative to the
size of the logits (trained models give logits in the hundreds, where float32 rounding alone exceeds 1e-4).
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
import torch

from stfnet.atomic import remove_stale_temporaries, temporary_path, write_text
from stfnet.checkpoint import Checkpoint, load_checkpoint
from stfnet.errors import UserError
from stfnet.shipped import resolve_model

FORMATS = {"onnx": ".onnx", "torchscript": ".ts"}
TOLERANCE = 1e-4  # largest difference to PyTorch, relative to the largest logit (at least 1)


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
    remove_stale_temporaries(out)
    tmp = temporary_path(out)
    try:
        (export_onnx if fmt == "onnx" else export_torchscript)(model, example_input(ckpt), tmp)
        diff = None
        if check:
            x = example_input(ckpt, batch=2)
            with torch.no_grad():
                expected = model(x).numpy()
            scale = max(1.0, float(np.abs(expected).max()))
            diff = float(np.abs(run_exported(tmp, fmt, x) - expected).max()) / scale
            if diff > TOLERANCE:
                raise UserError(f"the {fmt} export differs from the PyTorch model by {diff:.2e} of the logits' "
                                "size; nothing written (--no-check skips the comparison)")
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    meta = {"format": fmt, "input": "skeleton (N, C, T, V, M)", "output": "logits (N, classes)",
            "mirror_average": ckpt.mirror_average,  # inside the export: it answers as the app does
            "arms_free_margin": ckpt.arms_free_margin,  # so is the arms-free second reading (stfnet.arms_free)
            "labels": ckpt.labels, "stream": ckpt.stream, "normalize": ckpt.normalize.to_dict(),
            "layout": ckpt.layout.to_dict()}
    write_text(out.with_suffix(out.suffix + ".json"), json.dumps(meta, indent=1))
    return diff


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", "--checkpoint", dest="model", metavar="NAME_OR_PATH",
                        help="shipped model name or checkpoint file to export (default: the default model)")
    parser.add_argument("--format", required=True, choices=sorted(FORMATS))
    parser.add_argument("--out", help="output file (default: the checkpoint's name with .onnx or .ts)")
    parser.add_argument("--no-check", action="store_true", help="skip comparing the export with PyTorch")


def run(args: argparse.Namespace) -> int:
    path = resolve_model(args.model)
    ckpt = load_checkpoint(path)
    out = Path(args.out) if args.out else path.with_suffix(FORMATS[args.format])
    diff = export(ckpt, args.format, out, check=not args.no_check)
    checked = "" if diff is None else f"; largest difference to PyTorch {diff:.1e} of the logits' size"
    print(f"wrote {out} and {out.name}.json{checked}")
    return 0
