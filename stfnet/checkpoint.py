"""Self-describing checkpoints: the weights with everything needed to use them.

A checkpoint file is a plain dict of tensors and primitives (loadable with ``weights_only=True``):
``format``, ``model_config`` (with the full layout, so custom layouts travel too), ``labels``, ``stream``,
``normalize``, ``state_dict``, ``extra`` (free-form training facts) and, for resumable training checkpoints,
``training_state``.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from stfnet.arms_free import ArmsFreeSecondReading
from stfnet.atomic import atomic_open
from stfnet.errors import CheckpointError
from stfnet.features import STREAMS, NormalizeConfig
from stfnet.inference import fuse_for_inference
from stfnet.layouts import Layout, get_layout
from stfnet.mirror import MirrorAveraged, mirror_permutation
from stfnet.model import STFNet, STFNetConfig

FORMAT = "stfnet-checkpoint/1"


@dataclass
class Checkpoint:
    model_config: STFNetConfig
    labels: list[str]
    stream: str
    normalize: NormalizeConfig
    state_dict: dict[str, torch.Tensor]
    extra: dict[str, Any] = field(default_factory=dict)
    training_state: dict[str, Any] | None = None

    @property
    def layout(self) -> Layout:
        return get_layout(self.model_config.layout)

    @property
    def mirror_average(self) -> bool:
        """Whether the model answers for a window and its mirror image together (``stfnet.mirror``): recorded by
        training as ``extra["mirror_average"]``; older checkpoints: whenever their training mirrored samples."""
        if "mirror_average" in self.extra:
            return bool(self.extra["mirror_average"])
        augment = (self.extra.get("train_config") or {}).get("augment") or {}
        return float(augment.get("mirror") or 0) > 0

    @property
    def arms_free_margin(self) -> float | None:
        """The margin of the arms-free second reading (``stfnet.arms_free``), when the checkpoint asks for one
        (``extra["arms_free_margin"]``) and its stream is the joints."""
        margin = self.extra.get("arms_free_margin")
        return float(margin) if margin is not None and self.stream == "joint" else None

    def build_model(self, device: str | torch.device = "cpu", fused: bool = False,
                    mirror_average: bool | None = None, arms_free: bool | None = None) -> nn.Module:
        """The model with these weights, in eval mode, on ``device``, answering as the app does (averaged with the
        mirror image when ``mirror_average``, read a second time with the arms hidden when ``arms_free``, both by
        default the checkpoint's own settings); ``fused``: its inference form (``stfnet.inference``), same outputs
        and focus maps, faster, but frozen and without the model's internals. Analyses that look inside the model
        ask for ``mirror_average=False, arms_free=False``: the plain ``STFNet``."""
        model = STFNet(self.model_config)
        load_weights(model, self)
        model = model.to(device).eval()
        model = fuse_for_inference(model) if fused else model
        average = self.mirror_average if mirror_average is None else mirror_average
        if average:
            model = MirrorAveraged(model, mirror_permutation(self.layout), device)
        margin = self.arms_free_margin if arms_free is not False else None
        if margin is not None:
            norm = self.normalize
            model = ArmsFreeSecondReading(model, self.layout, norm.coords, norm.use_score, norm.scale == "bones",
                                          float(self.extra.get("temperature") or 1.0), margin, device)
        return model


def _config_to_dict(cfg: STFNetConfig) -> dict[str, Any]:
    d = dataclasses.asdict(cfg)
    d["layout"] = get_layout(cfg.layout).to_dict()
    d["mcf_layers"] = list(cfg.mcf_layers)
    return d


def _config_from_dict(d: dict[str, Any]) -> STFNetConfig:
    d = dict(d)
    d["layout"] = Layout.from_dict(d["layout"])
    d["mcf_layers"] = tuple(d["mcf_layers"])
    known = {f.name for f in dataclasses.fields(STFNetConfig)}
    return STFNetConfig(**{k: v for k, v in d.items() if k in known})


def make_checkpoint(model: STFNet, labels: list[str], stream: str, normalize: NormalizeConfig,
                    extra: dict[str, Any] | None = None) -> Checkpoint:
    if stream not in STREAMS:
        raise ValueError(f"unknown stream '{stream}'")
    if len(labels) != model.cfg.num_classes:
        raise ValueError(f"{len(labels)} labels for a model with {model.cfg.num_classes} classes")
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return Checkpoint(model.cfg, list(labels), stream, normalize, state, dict(extra or {}))


def save_checkpoint(ckpt: Checkpoint, path: str | Path) -> None:
    """Write atomically: a crash leaves either the old file or the new one, never half of one."""
    payload = {
        "format": FORMAT,
        "model_config": _config_to_dict(ckpt.model_config),
        "labels": ckpt.labels,
        "stream": ckpt.stream,
        "normalize": ckpt.normalize.to_dict(),
        "state_dict": ckpt.state_dict,
        "extra": ckpt.extra,
        "training_state": ckpt.training_state,
    }
    with atomic_open(path) as f:
        torch.save(payload, f)


# How torch's weights-only unpickler names a global it will not load.
_REFUSED_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> Checkpoint:
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a checkpoint file")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        with warnings.catch_warnings():  # torch warns about pickles it did not write; the sentence below is enough
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many types for a corrupt or foreign file
        refused = _REFUSED_GLOBAL.search(str(exc))
        if refused:  # a pickle that would call something: weights_only refused it, and we say what it wanted
            raise CheckpointError(f"{path} is not a safe checkpoint: it asks to load '{refused.group(1)}', which a "
                                  f"checkpoint never needs") from None
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(exc).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an STF-Net checkpoint (no '{FORMAT}' marker)")
    try:
        ckpt = Checkpoint(
            model_config=_config_from_dict(payload["model_config"]),
            labels=list(payload["labels"]),
            stream=payload["stream"],
            normalize=NormalizeConfig(**payload["normalize"]),
            state_dict=payload["state_dict"],
            extra=payload.get("extra") or {},
            training_state=payload.get("training_state"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path} is incomplete or malformed ({exc})") from None
    if ckpt.stream not in STREAMS:
        raise CheckpointError(f"checkpoint {path} is for the stream {str(ckpt.stream)[:40]!r}, which this version "
                              f"does not know (known: {', '.join(STREAMS)})")
    if not all(isinstance(label, str) for label in ckpt.labels) or len(ckpt.labels) != ckpt.model_config.num_classes:
        raise CheckpointError(f"checkpoint {path} names {len(ckpt.labels)} classes for a model with "
                              f"{ckpt.model_config.num_classes}: it is damaged")
    _check_answering(ckpt.extra, path)
    return ckpt


# How a checkpoint asks to be answered: setting -> (lowest, highest) allowed, both inclusive.
ANSWERING = {"temperature": (1e-3, 1e3), "min_confidence": (0.0, 1.0), "arms_free_margin": (0.0, 1.0)}


def _check_answering(extra: dict[str, Any], path: Path) -> None:
    """The answering settings (temperature, uncertainty threshold, arms-free margin) are numbers in range: they
    come from the file, which may be damaged or foreign."""
    if not isinstance(extra, dict):
        raise CheckpointError(f"checkpoint {path} is incomplete or malformed (its 'extra' is not a mapping)")
    for key, (low, high) in ANSWERING.items():
        value = extra.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise CheckpointError(f"checkpoint {path} has {key} {str(value)[:40]!r}, expected a number from {low} "
                                  f"to {high}: it is damaged")


def load_weights(model: STFNet, ckpt: Checkpoint) -> None:
    """Load the checkpoint's weights, after checking that it was made for this kind of model."""
    want, have = model.cfg, ckpt.model_config
    ckpt_layout, model_layout = get_layout(have.layout), model.layout
    if ckpt_layout != model_layout:
        raise CheckpointError(f"the checkpoint is for layout '{ckpt_layout.name}' ({ckpt_layout.num_joints} "
                              f"joints) but the model uses layout '{model_layout.name}' "
                              f"({model_layout.num_joints} joints)")
    if have.num_classes != want.num_classes:
        raise CheckpointError(f"the checkpoint has {have.num_classes} classes but the model has "
                              f"{want.num_classes}")
    if have.in_channels != want.in_channels:
        raise CheckpointError(f"the checkpoint expects {have.in_channels} input channels but the model has "
                              f"{want.in_channels}")
    try:
        model.load_state_dict(ckpt.state_dict)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise CheckpointError(f"the checkpoint's weights do not fit this model configuration ({first})") from None
