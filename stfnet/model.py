"""STF-Net: an ST-GCN backbone with a learnable graph mask, MCF and TDF (Wu, Zhang, Zou).

Read top to bottom: the spatial graph convolution (SCN), the Multi-grain Contextual Focus (MCF), the Temporal
Discrimination Focus (TDF), one block, the network. Input is ``(N, C, T, V, M)``: batch, channels, frames,
joints, persons. Every person is processed on its own and the persons' features are averaged before the head.

Choices where the paper is silent (switches in ``STFNetConfig`` where an ablation needs one):
- Block order: SCN -> MCF -> TDF -> temporal conv (9x1, the backbone's stride) -> + residual -> ReLU. The paper
  lists SCN, MCF and TDF in that order; the temporal conv is ST-GCN's and follows them, as ST-GCN's follows its GCN.
- SCN computes ``sum_k x W_k (G_k + Ga_k)`` with ``Ga_k`` initialised to ``G_k`` (paper Eq. 2); without the mask
  it is ST-GCN's graph convolution with the fixed ``G_k``.
- MCF is residual, ``x + BN(W_out y')``, with the BN scale initialised to zero so that a fresh MCF is the
  identity (as non-local blocks are usually initialised; ``mcf_identity_init=False`` starts it at one); its
  similarity is scaled by ``1/sqrt(C/alpha * T)`` so the softmax does not saturate on long windows; the grain
  weights start equal (``1/#grains``); gamma, phi and theta come from one 1x1 conv on the reduced features (the
  same maps as three convs, fewer kernel launches).
- TDF multiplies the features by its sigmoid weights (squeeze-and-excitation style), so they lie in (0, 1).
- The input BatchNorm normalises each (joint, channel) pair shared across persons, so a model trained with
  two persons runs on one.

How it is computed (``stfnet/ops.py``): features stay channels-last from the input to the head and convolutions go
straight to oneDNN; the same function as the plain formulation, faster on the CPU. ``stfnet/inference.py`` turns a
trained model into a frozen, faster form with the same outputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stfnet import ops
from stfnet.graph import spatial_partitions
from stfnet.layouts import Layout, get_layout, part_pooling


@dataclass
class STFNetConfig:
    layout: str | Layout = "openpose18"  # built-in layout name, layout JSON path, or a Layout
    num_classes: int = 60  # size of the classifier
    in_channels: int = 3  # channels per joint: x, y, z or x, y, score
    base_channels: int = 64  # width of the first stage; later stages are 2x and 4x (ST-GCN: 64)
    temporal_kernel: int = 9  # kernel of the backbone's temporal convolutions
    dropout: float = 0.0  # dropout after each temporal convolution
    graph_mask: bool = True  # learnable mask Ga added to the partitions (paper Eq. 2); False: fixed graph
    mcf: bool = True  # Multi-grain Contextual Focus in res-layers 4-9
    tdf: bool = True  # Temporal Discrimination Focus in res-layers 1-9
    tdf_motion: bool = False  # TDF on frame differences (ME) with kernel 3, instead of kernel 5 on features
    num_grains: int | None = None  # MCF grains including joints (1..layout's); None: all the layout has
    mcf_reduction: int = 4  # alpha: MCF works on C / alpha channels
    tdf_reduction: int = 4  # TDF squeezes to C / r channels; its grouped conv has C / r groups (paper: r = 4)
    mcf_layers: tuple[int, ...] = field(default=(4, 5, 6, 7, 8, 9))  # res-layers that get MCF
    mcf_identity_init: bool = True  # MCF's output BN scale starts at 0 (a fresh MCF is the identity); False: at 1


@dataclass
class FocusMaps:
    """What the focus modules looked at, for one forward pass, keyed by res-layer (1-9)."""

    mcf: dict[int, list[Tensor]]  # per layer, one softmax map (N*M, V, V_i) per grain
    mcf_grain_weights: dict[int, Tensor]  # per layer, the learned weights of the grains
    tdf: dict[int, Tensor]  # per layer, temporal weights (N*M, C, T) in (0, 1)
    features: Tensor | None = None  # the last feature map (N, M, C', T', V): class evidence comes from it


class SCN(nn.Module):
    """Spatial graph convolution over K partitions, with an optional learnable additive mask."""

    def __init__(self, in_channels: int, out_channels: int, partitions: Tensor, graph_mask: bool) -> None:
        super().__init__()
        self.register_buffer("graph", partitions)  # (K, V, V), fixed
        self.mask = nn.Parameter(partitions.clone()) if graph_mask else None
        self.conv = nn.Conv2d(in_channels, out_channels * partitions.shape[0], 1)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        graph = self.graph if self.mask is None else self.graph + self.mask  # (K, V, V)
        y = ops.graph_conv(x, graph, self.conv.weight, self.conv.bias)  # (N, C', T, V)
        return F.relu(self.bn(y), inplace=True)


class MCF(nn.Module):
    """Multi-grain Contextual Focus: every joint attends to the joints or parts of each grain."""

    def __init__(self, channels: int, pools: list[Tensor], reduction: int, identity_init: bool = True) -> None:
        super().__init__()
        self.inner = channels // reduction
        self.reduce = nn.Conv2d(channels, self.inner, 1)
        self.embed = nn.Conv2d(self.inner, 3 * self.inner, 1)  # gamma, phi, theta (query, key, value) in one conv
        self.register_buffer("pool", torch.cat(pools, dim=1))  # (V, sum of V_i): joints -> parts of all grains
        self.grain_sizes = [p.shape[1] for p in pools]
        self.grain_weights = nn.Parameter(torch.full((len(pools),), 1.0 / len(pools)))
        self.expand = nn.Conv2d(self.inner, channels, 1)
        self.bn = nn.BatchNorm2d(channels)
        if identity_init:
            nn.init.zeros_(self.bn.weight)

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        embedded = ops.conv(ops.conv(x, self.reduce), self.embed)  # (N, 3C/a, T, V)
        query, key, value = ops.joint_rows(embedded).chunk(3, dim=-1)  # (N*T, V, C/a) each, views
        pool = ops.weighted_pool(self.pool, self.grain_weights, self.grain_sizes)  # (V, P)
        context, maps = ops.multi_grain_focus(query, key, value, self.pool, pool, self.grain_sizes, x.shape[0])
        # in place: no copy of the (N, C, T, V) features, and BatchNorm's backward needs its input, not its output
        return self.bn(ops.conv(ops.from_joint_rows(context, x.shape[0]), self.expand)).add_(x), maps  # (N, C, T, V)


class TDF(nn.Module):
    """Temporal Discrimination Focus: per-channel, per-frame weights from joint-pooled features."""

    def __init__(self, channels: int, motion: bool, reduction: int) -> None:
        super().__init__()
        kernel = 3 if motion else 5
        inner = channels // reduction
        self.motion = motion
        self.squeeze = nn.Sequential(
            nn.Conv1d(channels, inner, kernel, padding=kernel // 2, bias=False),
            nn.BatchNorm1d(inner),
            nn.ReLU(),
        )
        self.excite = nn.Conv1d(inner, channels, kernel, padding=kernel // 2, groups=inner)  # C/4 cardinalities

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        rows = x.permute(0, 2, 3, 1)  # (N, T, V, C): a view of channels-last features
        pooled = rows.sum(dim=2) / x.shape[-1]  # (N, T, C): the mean, but a backward that only broadcasts
        if self.motion:
            pooled = ops.frame_differences(pooled)
        pooled = pooled.transpose(1, 2).unsqueeze(2)  # (N, C, 1, T), channels-last
        conv1, bn, relu = self.squeeze
        squeezed = relu(bn(ops.conv(pooled, conv1).squeeze(2))).unsqueeze(2)  # (N, C/r, 1, T)
        weights = torch.sigmoid(ops.conv(squeezed, self.excite)).squeeze(2)  # (N, C, T)
        # multiplied as rows, so that the gradient of the weights sums over contiguous joints
        return (rows * weights.transpose(1, 2).unsqueeze(2)).permute(0, 3, 1, 2), weights


class STFBlock(nn.Module):
    """SCN -> MCF -> TDF -> temporal conv, with a residual connection around the whole."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, partitions: Tensor, cfg: STFNetConfig,
                 pools: list[Tensor] | None, use_tdf: bool, residual: bool) -> None:
        super().__init__()
        k = cfg.temporal_kernel
        self.scn = SCN(in_channels, out_channels, partitions, cfg.graph_mask)
        self.mcf = MCF(out_channels, pools, cfg.mcf_reduction, cfg.mcf_identity_init) if pools else None
        self.tdf = TDF(out_channels, cfg.tdf_motion, cfg.tdf_reduction) if use_tdf else None
        self.tcn = nn.Sequential(
            nn.Conv2d(out_channels, out_channels, (k, 1), (stride, 1), (k // 2, 0)),
            nn.BatchNorm2d(out_channels),
            nn.Dropout(cfg.dropout),
        )
        if not residual:
            self.residual = None
        elif in_channels == out_channels and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, (stride, 1)),
                                          nn.BatchNorm2d(out_channels))

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor] | None, Tensor | None]:
        y = self.scn(x)  # (N, C', T, V)
        maps = weights = None
        if self.mcf is not None:
            y, maps = self.mcf(y)
        if self.tdf is not None:
            y, weights = self.tdf(y)
        y = ops.dropout(self.tcn[1](ops.conv(y, self.tcn[0])), self.tcn[2])  # (N, C', T / stride, V)
        if isinstance(self.residual, nn.Sequential):
            y += self.residual[1](ops.conv(x, self.residual[0]))  # in place: BatchNorm and dropout keep no output
        elif self.residual is not None:
            y += x
        return F.relu(y, inplace=True), maps, weights


class STFNet(nn.Module):
    """A beginning block (C -> 64, no MCF/TDF) and nine res-layers (64x3, 128x3, 256x3), then pooling and a
    linear classifier. With ``graph_mask``, ``mcf`` and ``tdf`` all off it is ST-GCN."""

    def __init__(self, cfg: STFNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.layout = get_layout(cfg.layout)
        grains = cfg.num_grains or self.layout.num_grains
        if not 1 <= grains <= self.layout.num_grains:
            raise ValueError(f"num_grains must be between 1 and {self.layout.num_grains} for layout "
                             f"'{self.layout.name}', got {grains}")
        partitions = torch.from_numpy(spatial_partitions(self.layout))  # (3, V, V)
        pools = [torch.from_numpy(part_pooling(self.layout, g)) for g in range(grains)]
        self.data_bn = nn.BatchNorm1d(cfg.in_channels * self.layout.num_joints)
        c = cfg.base_channels
        # (in, out, stride) of the beginning block and res-layers 1-9
        plan = [(cfg.in_channels, c, 1), (c, c, 1), (c, c, 1), (c, c, 1), (c, 2 * c, 2), (2 * c, 2 * c, 1),
                (2 * c, 2 * c, 1), (2 * c, 4 * c, 2), (4 * c, 4 * c, 1), (4 * c, 4 * c, 1)]
        self.blocks = nn.ModuleList(
            STFBlock(cin, cout, stride, partitions, cfg,
                     pools=pools if cfg.mcf and layer in cfg.mcf_layers else None,
                     use_tdf=cfg.tdf and layer >= 1, residual=layer >= 1)
            for layer, (cin, cout, stride) in enumerate(plan)
        )
        self.num_features = 4 * c
        self.head = nn.Linear(self.num_features, cfg.num_classes)
        ops.store_weights_channels_last(self)

    def _check_input(self, x: Tensor) -> None:
        if x.ndim != 5:
            raise ValueError(f"STF-Net expects input of shape (N, C, T, V, M), got a tensor of rank {x.ndim} "
                             f"with shape {tuple(x.shape)}")
        _, c, _, v, _ = x.shape
        if c != self.cfg.in_channels or v != self.layout.num_joints:
            raise ValueError(f"STF-Net for layout '{self.layout.name}' expects {self.cfg.in_channels} channels "
                             f"and {self.layout.num_joints} joints, got {c} channels and {v} joints")

    def _run(self, x: Tensor) -> tuple[Tensor, FocusMaps]:
        self._check_input(x)
        n, c, t, v, m = x.shape
        x = x.permute(0, 4, 3, 1, 2).reshape(n * m, v * c, t)  # (N*M, V*C, T)
        x = self.data_bn(x).view(n * m, v, c, t).permute(0, 2, 3, 1)  # (N*M, C, T, V)
        x = x.contiguous(memory_format=torch.channels_last)  # stored (N*M, T, V, C): see stfnet/ops.py
        maps = FocusMaps(mcf={}, mcf_grain_weights={}, tdf={})
        for layer, block in enumerate(self.blocks):
            x, mcf_maps, tdf_weights = block(x)
            if mcf_maps is not None:
                maps.mcf[layer] = mcf_maps
                maps.mcf_grain_weights[layer] = block.mcf.grain_weights.detach()
            if tdf_weights is not None:
                maps.tdf[layer] = tdf_weights
        return x.view(n, m, *x.shape[1:]), maps  # (N, M, C', T', V)

    def forward_features(self, x: Tensor) -> Tensor:
        """Last feature map ``(N, M, C', T', V)`` for input ``(N, C, T, V, M)``."""
        return self._run(x)[0]

    def forward_head(self, features: Tensor) -> Tensor:
        """Logits ``(N, classes)``: average over frames, joints and persons, then the classifier."""
        return self.head(features.mean(dim=(1, 3, 4)))

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))

    def forward_with_maps(self, x: Tensor) -> tuple[Tensor, FocusMaps]:
        features, maps = self._run(x)
        maps.features = features
        return self.forward_head(features), maps

    def class_evidence(self, features: Tensor, classes: Tensor) -> Tensor:
        """How much each frame and joint adds to each sample's logit of ``classes``: ``(N, T', V)`` for features
        ``(N, M, C', T', V)``. The head is linear on the mean feature, so the logit is the sum of these plus the
        bias (class activation maps, the paper's Fig. 6); persons are averaged like the head averages them."""
        weights = self.head.weight[classes]  # (N, C')
        per_place = torch.einsum("nc,nmctv->ntv", weights, features) / features.shape[1]  # (N, T', V)
        return per_place / (features.shape[3] * features.shape[4])


def stgcn_config(**overrides: object) -> STFNetConfig:
    """The ST-GCN baseline: the same backbone without the graph mask, MCF and TDF."""
    return STFNetConfig(**{"graph_mask": False, "mcf": False, "tdf": False, **overrides})
