"""STF-Net for inference: the same function as an eval-mode ``STFNet``, computed with fewer and cheaper operations.

``fuse_for_inference(model)`` returns a frozen copy that
- folds every BatchNorm into the convolution before it (the SCN's into its 1x1 weight and a per-joint bias added
  during the aggregation, TDF's into its squeeze, the input BatchNorm into a per-joint affine map);
- precomputes what depends only on weights: the graph ``G + Ga`` as one aggregation matrix, the grain-weighted
  pooling of MCF, the reordered weights;
- keeps features channels-last throughout (``stfnet/ops.py``) and collects the focus maps only in
  ``forward_with_maps``.
Dropout is the identity in eval mode and is left out. The copy does not follow later changes to the model's weights:
fuse again after loading new ones.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from stfnet import ops
from stfnet.model import MCF, SCN, TDF, FocusMaps, STFBlock, STFNet


def bn_scale_shift(bn: nn.BatchNorm1d | nn.BatchNorm2d) -> tuple[Tensor, Tensor]:
    """The eval-mode BatchNorm as ``x * scale + shift`` per channel."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return scale, bn.bias - bn.running_mean * scale


class Conv(nn.Module):
    """A frozen 2D convolution on channels-last input (a convolution and its BatchNorm, once folded)."""

    def __init__(self, weight: Tensor, bias: Tensor | None, stride: tuple[int, int] = (1, 1),
                 padding: tuple[int, int] = (0, 0), groups: int = 1) -> None:
        super().__init__()
        self.stride, self.padding, self.groups = stride, padding, groups
        self.register_buffer("weight", weight.detach().clone(memory_format=torch.channels_last))
        self.register_buffer("bias", None if bias is None else bias.detach().clone())
        self.packed: Tensor | None = None  # oneDNN's layout of the weight, CPU only: not a buffer, .to() skips it

    @classmethod
    def folded(cls, conv: nn.Conv1d | nn.Conv2d, bn: nn.BatchNorm1d | nn.BatchNorm2d | None = None) -> Conv:
        """``bn(conv(x))`` as one convolution; a Conv1d's runs along the width, as ``ops.conv`` runs it."""
        weight, bias, stride, padding, groups = ops.conv_arguments(conv)
        if bn is not None:
            scale, shift = bn_scale_shift(bn)
            weight, bias = weight * scale.view(-1, 1, 1, 1), shift if bias is None else bias * scale + shift
        return cls(weight, bias, stride, padding, groups)

    def prepack(self) -> None:
        self.packed = ops.prepack(self.weight, self.stride, self.padding, self.groups)

    def forward(self, x: Tensor) -> Tensor:
        if self.packed is not None and ops.uses_onednn(x):
            return ops.packed_conv2d(x, self.packed, self.bias, self.stride, self.padding, self.groups)
        return ops.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.groups)


class FusedSCN(nn.Module):
    """``relu(bn(SCN))`` with the BatchNorm folded in: ``sum_k G_k^T (x W_k) + bias`` per output joint."""

    def __init__(self, scn: SCN) -> None:
        super().__init__()
        graph = scn.graph if scn.mask is None else scn.graph + scn.mask  # (K, V, V)
        k = graph.shape[0]
        scale, shift = bn_scale_shift(scn.bn)
        weight = scn.conv.weight * scale.repeat(k).view(-1, 1, 1, 1)  # (K*C', C, 1, 1): the scale commutes
        bias = ops.aggregated_bias(scn.conv.bias * scale.repeat(k), graph) + shift.unsqueeze(1)  # (C', W)
        self.first = ops.aggregates_first(weight.shape[1], weight.shape[0] // k)
        self.register_buffer("matrix", ops.aggregation_matrix(graph, self.first))  # (W*K, V) or (W, V*K)
        if self.first:
            self.conv = Conv(ops.merge_partition_weights(weight, k), None)  # (C', K*C, 1, 1)
            self.register_buffer("bias", bias.unsqueeze(1))  # (C', 1, W)
        else:
            self.conv = Conv(weight, None)  # (K*C', C, 1, 1)
            self.register_buffer("bias", bias.T.contiguous())  # (W, C')

    def forward(self, x: Tensor) -> Tensor:
        if self.first:
            y = self.conv(ops.aggregate_joints(x, self.matrix)).add_(self.bias)
        else:
            y = ops.aggregate_rows(self.conv(x), self.matrix, self.bias)
        return y.relu_()  # (N, C', T, V)


class FusedMCF(nn.Module):
    """MCF with its output BatchNorm folded into the expanding 1x1 convolution, the grain weights into the pooling."""

    def __init__(self, mcf: MCF) -> None:
        super().__init__()
        self.reduce, self.embed, self.expand = Conv.folded(mcf.reduce), Conv.folded(mcf.embed), Conv.folded(
            mcf.expand, mcf.bn)
        self.grain_sizes = mcf.grain_sizes
        self.register_buffer("pool", mcf.pool.clone())  # (V, P)
        self.register_buffer("weighted_pool", ops.weighted_pool(mcf.pool, mcf.grain_weights, mcf.grain_sizes))
        self.register_buffer("grain_weights", mcf.grain_weights.detach().clone())  # for FocusMaps

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        n = x.shape[0]
        embedded = self.embed(self.reduce(x))  # (N, 3C/a, T, V)
        query, key, value = ops.joint_rows(embedded).chunk(3, dim=-1)  # (N*T, V, C/a) each, views
        context, maps = ops.multi_grain_focus(query, key, value, self.pool, self.weighted_pool, self.grain_sizes, n)
        return self.expand(ops.from_joint_rows(context, n)).add_(x), maps  # (N, C, T, V)


class FusedTDF(nn.Module):
    """TDF with its BatchNorm folded into the squeezing convolution."""

    def __init__(self, tdf: TDF) -> None:
        super().__init__()
        self.motion = tdf.motion
        self.squeeze, self.excite = Conv.folded(tdf.squeeze[0], tdf.squeeze[1]), Conv.folded(tdf.excite)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        rows = x.permute(0, 2, 3, 1)  # (N, T, V, C)
        pooled = rows.mean(dim=2)  # (N, T, C)
        if self.motion:
            pooled = ops.frame_differences(pooled)
        squeezed = self.squeeze(pooled.transpose(1, 2).unsqueeze(2)).relu_()  # (N, C/r, 1, T)
        weights = self.excite(squeezed).sigmoid_().squeeze(2)  # (N, C, T)
        return (rows * weights.transpose(1, 2).unsqueeze(2)).permute(0, 3, 1, 2), weights


class FusedBlock(nn.Module):
    """STFBlock with the temporal convolution's and the residual's BatchNorms folded into them."""

    def __init__(self, block: STFBlock) -> None:
        super().__init__()
        self.scn = FusedSCN(block.scn)
        self.mcf = FusedMCF(block.mcf) if block.mcf is not None else None
        self.tdf = FusedTDF(block.tdf) if block.tdf is not None else None
        self.tcn = Conv.folded(block.tcn[0], block.tcn[1])
        self.residual = Conv.folded(*block.residual) if isinstance(block.residual, nn.Sequential) else block.residual

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor] | None, Tensor | None]:
        y = self.scn(x)  # (N, C', T, V)
        maps = weights = None
        if self.mcf is not None:
            y, maps = self.mcf(y)
        if self.tdf is not None:
            y, weights = self.tdf(y)
        y = self.tcn(y)  # (N, C', T / stride, V)
        if self.residual is not None:
            y += self.residual(x)
        return y.relu_(), maps, weights


class FusedSTFNet(nn.Module):
    """The inference form of an ``STFNet``: ``forward`` and ``forward_with_maps`` as the model's, in eval mode."""

    def __init__(self, model: STFNet) -> None:
        super().__init__()
        self.cfg, self.layout = model.cfg, model.layout
        v, c = self.layout.num_joints, model.cfg.in_channels
        scale, shift = bn_scale_shift(model.data_bn)  # over V*C, channel v*C+c
        self.register_buffer("input_scale", scale.view(v, c).clone())
        self.register_buffer("input_shift", shift.view(v, c).clone())
        self.blocks = nn.ModuleList(FusedBlock(b) for b in model.blocks)
        self.head = copy.deepcopy(model.head)

    _check_input = STFNet._check_input  # uses only cfg and layout
    class_evidence = STFNet.class_evidence  # uses only the head

    def _run(self, x: Tensor, maps: FocusMaps | None) -> Tensor:
        self._check_input(x)
        n, c, t, v, m = x.shape
        x = x.permute(0, 4, 2, 3, 1).reshape(n * m, t, v, c)  # (N*M, T, V, C)
        x = torch.addcmul(self.input_shift, x, self.input_scale).permute(0, 3, 1, 2)  # (N*M, C, T, V) channels-last
        for layer, block in enumerate(self.blocks):
            x, mcf_maps, tdf_weights = block(x)
            if maps is not None and mcf_maps is not None:
                maps.mcf[layer] = mcf_maps
                maps.mcf_grain_weights[layer] = block.mcf.grain_weights
            if maps is not None and tdf_weights is not None:
                maps.tdf[layer] = tdf_weights
        if maps is not None:
            maps.features = x.view(n, m, *x.shape[1:])  # (N, M, C', T', V)
        features = ops.joint_rows(x).view(n, -1, x.shape[1]).mean(dim=1)  # (N, C'): over persons, frames, joints
        return self.head(features)

    def forward(self, x: Tensor) -> Tensor:
        return self._run(x, None)

    def forward_with_maps(self, x: Tensor) -> tuple[Tensor, FocusMaps]:
        maps = FocusMaps(mcf={}, mcf_grain_weights={}, tdf={})
        return self._run(x, maps), maps


@torch.no_grad()
def fuse_for_inference(model: STFNet, prepack: bool = True) -> FusedSTFNet:
    """A frozen inference copy of ``model``, on its device: the outputs of ``model.eval()`` within float rounding.
    ``prepack``: on the CPU, keep the convolution weights in oneDNN's layout too (see ``ops.prepack``); fuse again
    rather than move the copy to another device."""
    fused = FusedSTFNet(model).eval().requires_grad_(False)
    if prepack:
        for conv in fused.modules():
            if isinstance(conv, Conv):
                conv.prepack()
    return fused
