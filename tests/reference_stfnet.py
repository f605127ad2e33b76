"""STF-Net exactly as ``stfnet/model.py`` computed it before the speed work (commit e08eea0), kept as the reference
the fast model must match: same state_dict, same outputs (within float rounding), same training losses."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stfnet.graph import spatial_partitions
from stfnet.layouts import get_layout, part_pooling
from stfnet.model import FocusMaps, STFNetConfig


class SCN(nn.Module):
    """Spatial graph convolution over K partitions, with an optional learnable additive mask."""

    def __init__(self, in_channels: int, out_channels: int, partitions: Tensor, graph_mask: bool) -> None:
        super().__init__()
        self.register_buffer("graph", partitions)  # (K, V, V), fixed
        self.mask = nn.Parameter(partitions.clone()) if graph_mask else None
        self.conv = nn.Conv2d(in_channels, out_channels * partitions.shape[0], 1)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        n, _, t, v = x.shape
        graph = self.graph if self.mask is None else self.graph + self.mask
        y = self.conv(x).view(n, graph.shape[0], -1, t, v)  # (N, K, C', T, V)
        y = torch.einsum("nkctv,kvw->nctw", y, graph)  # (N, C', T, V)
        return F.relu(self.bn(y))


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
        n, _, t, v = x.shape
        embedded = self.embed(self.reduce(x))  # (N, 3C/a, T, V)
        query, key_value = embedded.split([self.inner, 2 * self.inner], dim=1)  # (N, C/a, T, V), (N, 2C/a, T, V)
        query = query.flatten(1, 2).transpose(1, 2)  # (N, V, C/a*T)
        key_value = torch.einsum("nctv,vp->nctp", key_value, self.pool)  # (N, 2C/a, T, P): joints -> parts
        key, value = (kv.flatten(1, 2) for kv in key_value.chunk(2, dim=1))  # (N, C/a*T, P) each
        similarity = query @ key / math.sqrt(query.shape[-1])  # (N, V, P)
        maps, context = [], 0
        for weight, sim, val in zip(self.grain_weights, similarity.split(self.grain_sizes, -1),
                                    value.split(self.grain_sizes, -1), strict=True):
            attention = sim.softmax(dim=-1)  # (N, V, V_i)
            maps.append(attention)
            context = context + weight * (val @ attention.transpose(1, 2))  # (N, C/a*T, V)
        context = context.view(n, -1, t, v)  # (N, C/a, T, V)
        return x + self.bn(self.expand(context)), maps


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
        pooled = x.mean(dim=-1)  # (N, C, T)
        if self.motion:
            pooled = F.pad(pooled[..., 1:] - pooled[..., :-1], (0, 1))  # (N, C, T), last frame has no successor
        weights = torch.sigmoid(self.excite(self.squeeze(pooled)))  # (N, C, T)
        return x * weights.unsqueeze(-1), weights


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
        y = self.tcn(y)  # (N, C', T / stride, V)
        if self.residual is not None:
            y = y + self.residual(x)
        return F.relu(y), maps, weights


class ReferenceSTFNet(nn.Module):
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
        return self.forward_head(features), maps
