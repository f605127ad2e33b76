"""`python main.py explain`: the paper's figures (Sec. IV-D) for a checkpoint, as PNG files.

    python main.py explain --checkpoint CKPT --data FILE --sample NAME --out DIR [--layer L]
    python main.py explain --checkpoint CKPT --video FILE --out DIR [--every SECONDS] [--layer L]
    python main.py explain --checkpoint CKPT --data FILE --split NAME --out DIR
    python main.py explain --checkpoint CKPT --data FILE --split NAME --views [--store] --out DIR
    python main.py explain --compare CKPT_A CKPT_B --data FILE --split NAME --out DIR [--names A B]

For one input window (figures from ``train.analysis.explain_figures``):

- ``mcf_layer<L>.png``: the MCF similarity matrices of res-layer L (default: the last layer with MCF), one panel
  per grain, joints against joints or parts (Fig. 5);
- ``feature_map.png``: the last feature map averaged over channels, time x joints (Fig. 6);
- ``tdf.png``: the TDF weights averaged over channels, one line per res-layer;
- ``maps.npz``: the raw arrays behind them (model input, every MCF map, TDF weights, last feature map);
- ``explain.json``: the sample or window, its top-5 prediction and the files.

All maps are of the first person of the window (the one with the highest keypoint scores), taken from one
forward pass in eval mode on the CPU. A checkpoint without MCF (or TDF) simply gets no MCF (or TDF) figure.

``--sample`` prepares the dataset sample exactly as evaluation does (``stfnet.features.prepare`` with the
checkpoint's options: the whole sequence resampled to the window). ``--video`` runs the live pose estimator
(``realtime.pose``) on every frame, keeps the most confident person of each frame, and cuts windows of the
checkpoint's live duration exactly as the app does (``realtime.window``, ``Recognizer.model_input``): by
default the one window centred on the middle of the video, with ``--every S`` one window ending every S seconds
from the first full window on. Each window gets its own folder ``window_<k>_<end>s``.

``--split`` (with ``--checkpoint`` and no ``--sample``) measures how much each focus module changes the features
over a whole split (graph mask change, MCF branch size, TDF spread over time) and the top-1 with each module
knocked out (see ``train.analysis.contributions``), and writes ``contributions.png`` and ``contributions.json``.

``--views`` measures over the split which attention views vary with the input and tell classes apart
(``train.analysis.views``), writes ``views.json``, and with ``--store`` records them in the checkpoint (written
atomically), so the GUI opens on them. Training does this on its validation split by itself.

``--compare`` evaluates two checkpoints on one split and writes ``per_class_accuracy.png`` (paired bars per class,
Fig. 4) and ``per_class_accuracy.json``; see ``train.analysis.per_class``.
"""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from stfnet.atomic import atomic_open, write_text
from stfnet.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from stfnet.errors import UserError
from stfnet.features import clip_windows, prepare
from stfnet.inference import FusedSTFNet
from stfnet.layouts import Layout
from stfnet.model import STFNet
from train.analysis.contributions import contributions_table, split_contributions
from train.analysis.explain_figures import feature_figure, mcf_figure, save_png, tdf_figure
from train.analysis.per_class import compare
from train.analysis.views import measure_views
from train.data.dataset import clip_fps
from train.data.format import load_dataset
from train.evaluate import check_fits, split_dataset


@dataclass
class Explanation:
    """One forward pass on one window, for its first person (the model's row 0: rows are sample-major)."""

    input: np.ndarray  # (C, T, V, M) model input
    probabilities: np.ndarray  # (classes,)
    features: np.ndarray  # (C', T', V) last feature map (forward_features)
    mcf: dict[int, list[np.ndarray]]  # res-layer -> per grain (V, V_i) similarity
    grain_weights: dict[int, np.ndarray]  # res-layer -> (grains,)
    tdf: dict[int, np.ndarray]  # res-layer -> (C, T_l) temporal weights

    @property
    def input_frames(self) -> int:
        return self.input.shape[1]


@torch.no_grad()
def explain_window(model: STFNet | FusedSTFNet, x: np.ndarray) -> Explanation:
    """Run ``model`` (in eval mode, or its fused inference form) on one window ``(C, T, V, M)``."""
    batch = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None]  # (1, C, T, V, M)
    logits, maps = model.forward_with_maps(batch)
    features = maps.features  # (1, M, C', T', V)
    return Explanation(
        input=batch[0].numpy(),
        probabilities=logits[0].softmax(dim=-1).numpy(),
        features=features[0, 0].numpy(),
        mcf={layer: [g[0].numpy() for g in grains] for layer, grains in maps.mcf.items()},
        grain_weights={layer: w.numpy() for layer, w in maps.mcf_grain_weights.items()},
        tdf={layer: w[0].numpy() for layer, w in maps.tdf.items()},
    )


def choose_layer(available: Iterable[int], layer: int | None) -> int | None:
    """The MCF layer to draw: ``layer`` if it has MCF, by default the last one; None without MCF."""
    available = sorted(available)
    if layer is None:
        return available[-1] if available else None
    if layer not in available:
        have = ", ".join(str(k) for k in available) or "none"
        raise UserError(f"res-layer {layer} of this checkpoint has no MCF (layers with MCF: {have}): choose --layer "
                        f"among them")
    return layer


def figures(expl: Explanation, layout: Layout, layer: int | None, title: str) -> dict[str, Figure]:
    """The figures of one window, by file stem."""
    out = {}
    layer = choose_layer(expl.mcf, layer)
    if layer is not None:
        out[f"mcf_layer{layer}"] = mcf_figure(expl.mcf[layer], layout, expl.grain_weights[layer],
                                              f"{title}\nMCF similarity, res-layer {layer}")
    out["feature_map"] = feature_figure(expl.features.mean(axis=0), layout, expl.input_frames,
                                        f"{title}\nlast feature map, mean over channels")
    if expl.tdf:
        out["tdf"] = tdf_figure({k: w.mean(axis=0) for k, w in expl.tdf.items()}, expl.input_frames,
                                f"{title}\nTDF temporal weights")
    return out


def top_k(probabilities: np.ndarray, labels: list[str], k: int = 5) -> list[dict[str, Any]]:
    best = np.argsort(-probabilities, kind="stable")[:k]
    return [{"label": labels[i], "probability": round(float(probabilities[i]), 5)} for i in best]


def write_window(expl: Explanation, ckpt: Checkpoint, layer: int | None, folder: Path, title: str,
                 extra: dict[str, Any]) -> dict[str, Any]:
    """The figures, the raw maps and a summary (with ``extra``) of one window, in ``folder``; returns the summary."""
    files = []
    for stem, fig in figures(expl, ckpt.layout, layer, title).items():
        save_png(fig, folder / f"{stem}.png")
        files.append(f"{stem}.png")
    arrays = {"input": expl.input, "features": expl.features, "probabilities": expl.probabilities}
    arrays |= {f"mcf_layer{k}_grain{g}": m for k, grains in expl.mcf.items() for g, m in enumerate(grains)}
    arrays |= {f"tdf_layer{k}": w for k, w in expl.tdf.items()}
    buffer = io.BytesIO()  # np.savez needs a seekable file; the atomic one is written in one go
    np.savez_compressed(buffer, **arrays)
    with atomic_open(folder / "maps.npz") as f:
        f.write(buffer.getvalue())
    files.append("maps.npz")
    summary = extra | {"title": title, "top5": top_k(expl.probabilities, ckpt.labels),
                       "mcf_layer": choose_layer(expl.mcf, layer), "files": files}
    write_text(folder / "explain.json", json.dumps(summary, indent=1))
    return summary


# --- inputs -------------------------------------------------------------------------------------------------------

def sample_input(ckpt: Checkpoint, data: dict[str, Any], name: str, source: str) -> tuple[np.ndarray, dict]:
    """A dataset sample as model input ``(C, T, V, M)``, prepared as evaluation prepares it, and its annotation."""
    matches = [a for a in data["annotations"] if str(a["frame_dir"]) == name]
    if not matches:
        examples = ", ".join(str(a["frame_dir"]) for a in data["annotations"][:3])
        raise UserError(f"{source} has no sample named '{name}' (samples are named like {examples})")
    annotation = matches[0]
    check_fits(ckpt, data, [annotation], source)
    keypoints = np.asarray(annotation["keypoint"], dtype=np.float32)  # (M, T, V, C)
    scores = annotation.get("keypoint_score")
    windows = clip_windows(keypoints.shape[1], clip_fps(annotation, data.get("fps")), ckpt.normalize)
    x = prepare(keypoints, None if scores is None else np.asarray(scores, np.float32), ckpt.layout, ckpt.normalize,
                ckpt.stream, windows[len(windows) // 2])  # the middle window of a long clip
    return x, annotation


def explain_sample(checkpoint: str | Path, data_path: str | Path, name: str, out: str | Path,
                   layer: int | None = None) -> dict[str, Any]:
    ckpt = load_checkpoint(checkpoint)
    data = load_dataset(data_path)
    x, annotation = sample_input(ckpt, data, name, str(data_path))
    expl = explain_window(ckpt.build_model("cpu", mirror_average=False, arms_free=False), x)
    truth = ckpt.labels[int(annotation["label"])]
    best = top_k(expl.probabilities, ckpt.labels, 1)[0]
    title = f"{name}: true {truth}, predicted {best['label']} ({best['probability']:.0%})"
    return write_window(expl, ckpt, layer, Path(out), title, {"checkpoint": str(checkpoint), "data": str(data_path),
                                                              "sample": name, "true_label": truth})


def explain_video(checkpoint: str | Path, video: str | Path, out: str | Path, every: float | None = None,
                  layer: int | None = None, pose_model: str | Path | None = None, estimator: Any = None
                  ) -> dict[str, Any]:
    """Pose over the whole video, then the chosen windows; ``estimator`` replaces the live one (tests)."""
    from train.analysis.explain_video import video_windows  # pose and video decoding only for this path

    ckpt = load_checkpoint(checkpoint)
    cfg = ckpt.model_config
    choose_layer(cfg.mcf_layers if cfg.mcf else (), layer)  # a wrong --layer fails before the pose pass
    windows, recognizer = video_windows(ckpt, video, every, pose_model, estimator)
    model, out = recognizer.model, Path(out)
    summaries = []
    for k, snap in enumerate(windows):
        start, end = snap.span
        x = recognizer.model_input(snap.keypoints[None], snap.scores[None])  # (C, T, V, M), as live
        expl = explain_window(model, x)
        best = top_k(expl.probabilities, ckpt.labels, 1)[0]
        title = f"{Path(video).name} {max(start, 0.0):.2f}-{end:.2f} s: predicted {best['label']} " \
                f"({best['probability']:.0%})"
        folder = out / f"window_{k:02d}_{end:.2f}s"
        summaries.append(write_window(expl, ckpt, layer, folder, title,
                                      {"folder": folder.name, "window": [round(start, 3), round(end, 3)]}))
    summary = {"checkpoint": str(checkpoint), "video": str(video), "window_seconds": recognizer.window_seconds,
               "every": every, "windows": summaries}
    write_text(out / "explain.json", json.dumps(summary, indent=1))
    return summary


# --- command line -------------------------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", help="checkpoint to explain (.pt)")
    parser.add_argument("--data", help="dataset file: the sample's (with --sample) or the split's (with --split)")
    parser.add_argument("--sample", help="frame_dir of the dataset sample to explain")
    parser.add_argument("--video", help="video file to explain (the live pose estimator runs on it)")
    parser.add_argument("--compare", nargs=2, metavar=("CKPT_A", "CKPT_B"),
                        help="per-class accuracy of two checkpoints on --split (A: reference, B: compared)")
    parser.add_argument("--split", help="dataset split, e.g. xsub_test: with --compare, or with --checkpoint to "
                        "measure how much each focus module acts over the split")
    parser.add_argument("--out", required=True, help="folder for the figures")
    parser.add_argument("--layer", type=int, help="res-layer of the MCF figure (default: the last with MCF)")
    parser.add_argument("--every", type=float,
                        help="video: one window ending every SECONDS (default: the middle window only)")
    parser.add_argument("--pose-model", help="video: MediaPipe Tasks .task pose model (default: the bundled one)")
    parser.add_argument("--names", nargs=2, metavar=("A", "B"), help="--compare: legend names of the two models")
    parser.add_argument("--device", default="auto", help="--compare: auto, cpu, cuda, ...")
    parser.add_argument("--views", action="store_true",
                        help="with --split: measure which attention views tell classes apart (views.json)")
    parser.add_argument("--store", action="store_true", help="with --views: record them in the checkpoint")


def run(args: argparse.Namespace) -> int:
    if args.compare:
        if args.checkpoint or args.sample or args.video or not (args.data and args.split):
            raise UserError("--compare CKPT_A CKPT_B takes --data FILE --split NAME and no --checkpoint, --sample "
                            "or --video")
        result = compare(tuple(args.compare), args.data, args.split, args.out,
                         tuple(args.names) if args.names else None, args.device)
        print(json.dumps({"a_top1": round(result["a"]["top1"], 4), "b_top1": round(result["b"]["top1"], 4),
                          "out": args.out}))
        return 0
    if not args.checkpoint or bool(args.video) == bool(args.data or args.sample) or (args.sample and args.split):
        raise UserError("explain needs --checkpoint CKPT with one of --data FILE --sample NAME, --data FILE --split "
                        "NAME or --video FILE (or --compare CKPT_A CKPT_B --data FILE --split NAME)")
    if args.every is not None and (not args.video or args.every <= 0):
        raise UserError("--every takes a positive number of seconds and goes with --video")
    if args.video:
        summary = explain_video(args.checkpoint, args.video, args.out, args.every, args.layer, args.pose_model)
        print(f"{len(summary['windows'])} window(s) explained -> {args.out}")
        return 0
    if args.views or args.store:
        if not (args.data and args.split) or not args.views:
            raise UserError("--views takes --checkpoint CKPT --data FILE --split NAME (and --store to record them)")
        ckpt = load_checkpoint(args.checkpoint)
        plain = ckpt.build_model("cpu", mirror_average=False, arms_free=False)
        ckpt.extra["views"] = views = measure_views(plain, split_dataset(ckpt, args.data, args.split))
        write_text(Path(args.out) / "views.json", json.dumps(views, indent=1))
        if args.store:
            save_checkpoint(ckpt, args.checkpoint)
        print(json.dumps({family: views.get(family) for family in ("mcf", "tdf", "joints")}))
        return 0
    if args.data and args.split:
        summary, figure = split_contributions(args.checkpoint, args.data, args.split)
        save_png(figure, Path(args.out) / "contributions.png")
        write_text(Path(args.out) / "contributions.json", json.dumps(summary, indent=1))
        print(contributions_table(summary))
        return 0
    if not (args.data and args.sample):
        raise UserError("--data goes with --sample NAME (one sample's figures) or --split NAME (how much each "
                        "module acts over the split)")
    summary = explain_sample(args.checkpoint, args.data, args.sample, args.out, args.layer)
    print(f"{summary['sample']}: predicted {summary['top5'][0]['label']} -> {args.out}")
    return 0
