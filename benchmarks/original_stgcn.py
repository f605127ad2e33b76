"""The original ST-GCN (Yan, Xiong, Lin, AAAI 2018) as its paper describes it: the fixed yardstick for speed.

Written for timing only and never optimised, so that every speed figure is a ratio against something that does
not move when the project's own model changes. Per block: a graph convolution (one 1x1 convolution to K groups of
output channels, then each group aggregated over its spatial partition, with a learnable edge-importance weight
per block multiplying the partitions), then the temporal unit BN -> ReLU -> 9x1 convolution -> BN -> dropout, a
residual connection and a ReLU. Ten blocks (64, 64, 64, 64, 128, 128, 128, 256, 256, 256; temporal stride 2 at
the first 128 and 256 block; no residual in the first), a data BatchNorm over persons, joints and channels,
global average pooling and a 1x1 convolution as the classifier. It uses the project's spatial partitions
(``stfnet.graph``), so both models see the same graph.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stfnet.graph import spatial_partitions
from stfnet.layouts import get_layout


class GraphConvolution(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, partitions: int) -> None:
        super().__init__()
        self.partitions = partitions
        self.conv = nn.Conv2d(in_channels, out_channels * partitions, kernel_size=1)

    def forward(self, x: Tensor, graph: Tensor) -> Tensor:
        x = self.conv(x)
        n, kc, t, v = x.shape
        x = x.view(n, self.partitions, kc // self.partitions, t, v)
        return torch.einsum("nkctv,kvw->nctw", x, graph).contiguous()


class Block(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, partitions: int, stride: int = 1,
                 residual: bool = True, dropout: float = 0.0) -> None:
        super().__init__()
        self.gcn = GraphConvolution(in_channels, out_channels, partitions)
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, (9, 1), (stride, 1), (4, 0)),
            nn.BatchNorm2d(out_channels),
            nn.Dropout(dropout, inplace=True),
        )
        if not residual:
            self.residual = None
        elif in_channels == out_channels and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, (stride, 1)),
                                          nn.BatchNorm2d(out_channels))

    def forward(self, x: Tensor, graph: Tensor) -> Tensor:
        res = 0 if self.residual is None else self.residual(x)
        return F.relu(self.tcn(self.gcn(x, graph)) + res)


class OriginalSTGCN(nn.Module):
    def __init__(self, layout: str, num_classes: int, in_channels: int = 3, num_persons: int = 2,
                 base_channels: int = 64) -> None:
        super().__init__()
        lay = get_layout(layout)
        graph = torch.from_numpy(spatial_partitions(lay))  # (K, V, V)
        self.register_buffer("graph", graph)
        k = graph.shape[0]
        self.data_bn = nn.BatchNorm1d(in_channels * lay.num_joints * num_persons)
        c = base_channels  # 64 in the paper; smaller only to keep tests of the benchmarks quick
        plan = [(in_channels, c, 1, False), (c, c, 1, True), (c, c, 1, True), (c, c, 1, True),
                (c, 2 * c, 2, True), (2 * c, 2 * c, 1, True), (2 * c, 2 * c, 1, True), (2 * c, 4 * c, 2, True),
                (4 * c, 4 * c, 1, True), (4 * c, 4 * c, 1, True)]
        self.blocks = nn.ModuleList(Block(cin, cout, k, stride, residual) for cin, cout, stride, residual in plan)
        self.edge_importance = nn.ParameterList(nn.Parameter(torch.ones_like(graph)) for _ in plan)
        self.fcn = nn.Conv2d(4 * c, num_classes, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        n, c, t, v, m = x.shape
        x = x.permute(0, 4, 3, 1, 2).contiguous().view(n, m * v * c, t)
        x = self.data_bn(x)
        x = x.view(n, m, v, c, t).permute(0, 1, 3, 4, 2).contiguous().view(n * m, c, t, v)
        for block, importance in zip(self.blocks, self.edge_importance, strict=True):
            x = block(x, self.graph * importance)
        x = F.avg_pool2d(x, x.shape[2:])
        x = x.view(n, m, -1, 1, 1).mean(dim=1)
        return self.fcn(x).view(n, -1)
