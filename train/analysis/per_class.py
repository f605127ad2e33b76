"""Per-class accuracy of two checkpoints side by side (paper Fig. 4), for `main.py explain --compare`.

Both checkpoints are evaluated on one split as `main.py eval` evaluates them (``train.evaluate``). A is the
reference (e.g. the ST-GCN baseline), B the model compared with it; the result (``per_class_accuracy.json``)
holds both models' top-1, top-5 and per-class accuracy and B - A per class, and ``per_class_accuracy.png``
shows the paired bars.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from stfnet.atomic import write_text
from stfnet.checkpoint import load_checkpoint
from stfnet.errors import UserError
from stfnet.model import STFNetConfig
from train.analysis.explain_figures import per_class_figure, save_png
from train.evaluate import compute_metrics, evaluate_checkpoint


def variant_name(cfg: STFNetConfig) -> str:
    """The model's name from its config: ST-GCN, STF-Net, or STF-Net w/o the modules it lacks."""
    parts = {"mask": cfg.graph_mask, "MCF": cfg.mcf, "TDF": cfg.tdf}
    if not any(parts.values()):
        return "ST-GCN"
    missing = [name for name, on in parts.items() if not on]
    name = "STF-Net" + (f" w/o {' & '.join(missing)}" if missing else "")
    return name + (f", {cfg.num_grains} grains" if cfg.mcf and cfg.num_grains else "")


def compare(checkpoints: tuple[str, str], data_path: str | Path, split: str, out: str | Path,
            names: tuple[str, str] | None = None, device: str = "auto", batch_size: int = 64) -> dict[str, Any]:
    """Evaluate both checkpoints on ``split`` and write the figure and the JSON to ``out``; returns the JSON."""
    ckpts = [load_checkpoint(c) for c in checkpoints]
    if ckpts[0].labels != ckpts[1].labels:
        raise UserError(f"{checkpoints[0]} and {checkpoints[1]} have different classes: compare checkpoints "
                        f"trained on the same dataset")
    if names is None:
        names = tuple(f"{variant_name(c.model_config)} ({'/'.join(Path(p).parts[-3:])})"
                      for c, p in zip(ckpts, checkpoints, strict=True))
    models = []
    for path, name in zip(checkpoints, names, strict=True):
        scores = evaluate_checkpoint(path, data_path, split, batch_size=batch_size, device=device)
        metrics = compute_metrics(scores.scores, scores.labels, scores.classes)
        models.append({"name": name, "checkpoint": str(path), "top1": metrics["top1"], "top5": metrics["top5"],
                       "per_class_accuracy": metrics["per_class_accuracy"]})
        samples = metrics["per_class_samples"]
    classes = list(ckpts[0].labels)
    a, b = (m["per_class_accuracy"] for m in models)
    difference = {c: (None if a[c] is None or b[c] is None else b[c] - a[c]) for c in classes}
    result = {"data": str(data_path), "split": split, "classes": classes, "per_class_samples": samples,
              "a": models[0], "b": models[1], "difference_b_minus_a": difference,
              "classes_better": sum(d > 0 for d in difference.values() if d is not None),
              "classes_worse": sum(d < 0 for d in difference.values() if d is not None)}
    out = Path(out)
    save_png(comparison_figure(result), out / "per_class_accuracy.png")
    write_text(out / "per_class_accuracy.json", json.dumps(result, indent=1))
    return result


def comparison_figure(result: dict[str, Any]) -> Figure:
    """Fig. 4 from the result of ``compare`` (the contents of per_class_accuracy.json)."""
    classes, a, b = result["classes"], result["a"], result["b"]
    names = tuple(f"{m['name']}: top-1 {100 * m['top1']:.1f}%" for m in (a, b))
    return per_class_figure(classes, [a["per_class_accuracy"][c] for c in classes],
                            [b["per_class_accuracy"][c] for c in classes], names,
                            f"per-class accuracy on {result['split']}")
