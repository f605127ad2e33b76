"""The models shipped in ``assets/``: ``NAME.pt`` beside ``NAME.md`` (its model card), one short name each.

    resolve_model(None)          # the default model's path
    resolve_model("gestures")    # a shipped model by name
    resolve_model("runs/x.pt")   # any checkpoint file
    shipped_models()             # [ShippedModel(name, path, title), ...], the default first
    teach_backbone(path)         # what the Teach panel fine-tunes when this model is in use

Every command that takes ``--model`` resolves it here, so a name means the same everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stfnet.checkpoint import load_checkpoint
from stfnet.errors import CheckpointError

ASSETS = Path(__file__).resolve().parents[1] / "assets"
DEFAULT_MODEL = "exercise"
# New actions are learned from this one: half the width of the default, so a fine-tuning step takes two fifths of
# the CPU, and in less time it learns new actions better (README, "Teaching new actions: few-shot").
TEACH_BACKBONE = "exercise-small"


@dataclass(frozen=True)
class ShippedModel:
    name: str  # short name, the file's stem
    path: Path
    title: str  # the model card's first heading, or the name


def _title(card: Path, name: str) -> str:
    if card.is_file():
        for line in card.read_text(errors="replace").splitlines():
            if line.startswith("# "):
                return line[2:].strip()
    return name


def shipped_models(assets: Path | None = None) -> list[ShippedModel]:
    """Every checkpoint in ``assets/``, the default first, then by name."""
    folder = assets or ASSETS
    paths = sorted(folder.glob("*.pt"), key=lambda p: (p.stem != DEFAULT_MODEL, p.stem))
    return [ShippedModel(p.stem, p, _title(p.with_suffix(".md"), p.stem)) for p in paths]


def resolve_model(name_or_path: str | Path | None, assets: Path | None = None) -> Path:
    """The checkpoint a ``--model`` value names: a shipped model's name, a file, or the default when None."""
    folder = assets or ASSETS
    if name_or_path is None:
        default = folder / f"{DEFAULT_MODEL}.pt"
        if not default.is_file():
            raise CheckpointError(f"the default model {default} is not installed: pass --model with a shipped "
                                  f"model's name or a checkpoint file")
        return default
    text = str(name_or_path)
    shipped = folder / f"{text}.pt"
    if "/" not in text and "\\" not in text and not text.endswith(".pt") and shipped.is_file():
        return shipped
    path = Path(text).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a checkpoint file")
    names = ", ".join(m.name for m in shipped_models(folder)) or "none installed"
    if text.endswith(".pt") or "/" in text or "\\" in text:
        raise CheckpointError(f"checkpoint {path} does not exist (shipped models: {names})")
    raise CheckpointError(f"unknown model '{text}': use a shipped model ({names}) or a path to a .pt checkpoint")


def model_title(path: Path) -> str:
    """What to call a checkpoint on screen: a shipped model's card title, else its run folder or file name."""
    card = path.with_suffix(".md")
    if card.is_file():
        return _title(card, path.stem)
    if path.name == "model.pt":  # a custom model taught in the app: its folder is its name
        return f"{path.parent.name} (yours)"
    if path.stem in ("final", "best", "last") and path.parent.name:
        return f"{path.parent.name}/{path.name}"
    return path.name


def teach_backbone(in_use: Path, assets: Path | None = None) -> Path:
    """The checkpoint to fine-tune new actions from while ``in_use`` runs: the shipped Teach backbone when
    ``in_use`` is another shipped model that reads the same skeletons (layout and coordinates), else ``in_use``
    itself (your own models, and checkpoints opened from elsewhere, are their own starting point)."""
    folder = (assets or ASSETS).resolve()
    backbone = folder / f"{TEACH_BACKBONE}.pt"
    if Path(in_use).resolve().parent != folder or not backbone.is_file():
        return in_use
    try:
        mine, theirs = load_checkpoint(in_use), load_checkpoint(backbone)
    except CheckpointError:
        return in_use
    same_input = mine.layout == theirs.layout and mine.normalize.coords == theirs.normalize.coords
    return backbone if same_input else in_use
