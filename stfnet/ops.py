"""The tensor operations STF-Net spends its time in, written for channels-last features.

Features ``(N, C, T, V)`` are kept in ``torch.channels_last`` memory, i.e. stored as ``(N, T, V, C)``: oneDNN's
convolutions take that without reordering, and every joint's channels are a contiguous row, so aggregating over
joints or pooling over them is a batched matrix product or a reduction on views, with no copies. The eager model
(``stfnet/model.py``) and the inference model (``stfnet/inference.py``) both compute with these functions; the
latter with its BatchNorms folded into the weights and everything that depends only on weights precomputed.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_is_compiling = getattr(torch.compiler, "is_compiling", lambda: False)  # torch < 2.3 has none


def uses_onednn(x: Tensor) -> bool:
    """Whether ``x`` goes to oneDNN directly: float32 on the CPU, and not while compiling or tracing (TorchScript,
    ONNX), which want the portable ``F.conv2d``."""
    if _is_compiling() or torch.jit.is_tracing():
        return False
    return x.device.type == "cpu" and x.dtype == torch.float32 and torch.backends.mkldnn.is_available() \
        and torch.backends.mkldnn.enabled


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: tuple[int, int] = (1, 1),
           padding: tuple[int, int] = (0, 0), groups: int = 1) -> Tensor:
    """``F.conv2d``, but through oneDNN where ``uses_onednn``. PyTorch sends 1x1 convolutions with one thread and a
    batch below 16 (the live window) to its im2col path, which is about half as fast here, and that path turns
    channels-last input back into channels-first."""
    if uses_onednn(x):
        return torch.mkldnn_convolution(x, weight, bias, padding, stride, (1, 1), groups)
    return F.conv2d(x, weight, bias, stride, padding, 1, groups)


def conv(x: Tensor, layer: nn.Conv1d | nn.Conv2d) -> Tensor:
    """``layer(x)`` through ``conv2d``; a Conv1d runs along the width of ``(N, C, 1, T)`` (oneDNN is faster on
    that than on ``(N, C, T, 1)``)."""
    return conv2d(x, *conv_arguments(layer))


def conv_arguments(layer: nn.Conv1d | nn.Conv2d) -> tuple[Tensor, Tensor | None, tuple[int, int], tuple[int, int],
                                                           int]:
    """Weight, bias, stride, padding and groups of ``layer`` as a 2D convolution (a Conv1d's along the width)."""
    if isinstance(layer, nn.Conv1d):
        return layer.weight.unsqueeze(2), layer.bias, (1, layer.stride[0]), (0, layer.padding[0]), layer.groups
    return layer.weight, layer.bias, layer.stride, layer.padding, layer.groups


def store_weights_channels_last(model: nn.Module) -> None:
    """Store every convolution weight channels-last, as oneDNN reads it with channels-last input; otherwise it
    copies the weight on every call (2.4 MB for a 256x256x9 kernel). Only the memory layout changes: the state_dict
    has the same keys, shapes and values, and ``load_state_dict`` and ``.to(device)`` keep the layout."""
    for layer in model.modules():
        if isinstance(layer, nn.Conv2d):
            layer.weight.data = layer.weight.detach().contiguous(memory_format=torch.channels_last)
        elif isinstance(layer, nn.Conv1d):  # (C', C, k) stored (C', k, C): its (C', C, 1, k) view is channels-last
            layer.weight.data = layer.weight.detach().transpose(1, 2).contiguous().transpose(1, 2)


def dropout(x: Tensor, layer: nn.Dropout) -> Tensor:
    """``layer(x)``, with the random mask drawn in ``(N, C, T, V)`` order whatever the memory layout of ``x``, so
    that a seed drops the same elements as it did before the features became channels-last (the same draws as
    ``F.dropout``, which fills a mask of the input's layout)."""
    if not layer.training or layer.p == 0:
        return x
    if layer.p == 1:
        return x * 0
    keep = 1 - layer.p
    return x * torch.empty(x.shape, dtype=x.dtype, device=x.device).bernoulli_(keep).div_(keep)


def joint_rows(x: Tensor) -> Tensor:
    """``(N, C, T, V)`` -> ``(N*T, V, C)``: one row of channels per joint (a view when ``x`` is channels-last)."""
    n, c, t, v = x.shape
    return x.permute(0, 2, 3, 1).reshape(n * t, v, c)


def from_joint_rows(rows: Tensor, n: int) -> Tensor:
    """``(N*T, V, C)`` -> channels-last ``(N, C, T, V)``, a view."""
    nt, v, c = rows.shape
    return rows.view(n, nt // n, v, c).permute(0, 3, 1, 2)


# --- SCN: graph convolution --------------------------------------------------------------------------------------
# sum_k G_k^T (x W_k + b_k): the 1x1 convolution and the aggregation over joints commute, so the aggregation runs
# on the side with fewer channels: first when the block widens (C < C'), last otherwise.

def aggregates_first(in_channels: int, out_channels: int) -> bool:
    return in_channels < out_channels


def aggregation_matrix(graph: Tensor, first: bool) -> Tensor:
    """The partitions ``(K, V, W)`` as one matrix for ``aggregate_joints`` ``(W*K, V)`` (row w*K+k is column w of
    G_k) or ``aggregate_rows`` ``(W, V*K)`` (column v*K+k is row v of G_k)."""
    k, v, w = graph.shape
    return graph.permute(2, 0, 1).reshape(w * k, v) if first else graph.permute(2, 1, 0).reshape(w, v * k)


def merge_partition_weights(weight: Tensor, partitions: int) -> Tensor:
    """SCN's 1x1 weight ``(K*C', C, 1, 1)`` -> ``(C', K*C, 1, 1)`` for features aggregated per partition first."""
    kc_out, c, _, _ = weight.shape
    return weight.view(partitions, kc_out // partitions, c).transpose(0, 1).reshape(-1, partitions * c, 1, 1)


def aggregated_bias(bias: Tensor, graph: Tensor) -> Tensor:
    """``(K*C',)`` -> ``(C', W)``: each partition's bias summed over the joints that feed each output joint."""
    k = graph.shape[0]
    return torch.einsum("kc,kw->cw", bias.view(k, -1), graph.sum(dim=1))


def aggregate_joints(x: Tensor, matrix: Tensor) -> Tensor:
    """Before the 1x1 convolution: ``(N, C, T, V)`` -> ``(N, K*C, T, W)`` (channel k*C+c), channels-last, with
    ``matrix`` ``(W*K, V)``."""
    n, c, t, v = x.shape
    z = torch.bmm(matrix.expand(n * t, -1, -1), joint_rows(x))  # (N*T, W*K, C)
    return from_joint_rows(z.view(n * t, v, -1), n)  # (N, K*C, T, W): W = V


def aggregate_rows(y: Tensor, matrix: Tensor, bias: Tensor | None = None) -> Tensor:
    """After the 1x1 convolution: ``(N, K*C', T, V)`` (channel k*C'+c) -> ``(N, C', T, W)``, channels-last, with
    ``matrix`` ``(W, V*K)``; ``bias`` ``(W, C')`` is added to the result."""
    n, _, t, _ = y.shape
    w, vk = matrix.shape
    rows = joint_rows(y).reshape(n * t, vk, -1)  # (N*T, V*K, C'): a view
    matrix = matrix.expand(n * t, -1, -1)
    return from_joint_rows(torch.bmm(matrix, rows) if bias is None else torch.baddbmm(bias, matrix, rows), n)


def graph_conv(x: Tensor, graph: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """SCN's graph convolution of ``x`` ``(N, C, T, V)`` with ``graph`` ``(K, V, W)`` and the 1x1 convolution
    ``weight`` ``(K*C', C, 1, 1)``, ``bias`` ``(K*C',)``; returns ``(N, C', T, W)``."""
    k = graph.shape[0]
    if aggregates_first(x.shape[1], weight.shape[0] // k):
        y = conv2d(aggregate_joints(x, aggregation_matrix(graph, True)), merge_partition_weights(weight, k))
        return y.add_(aggregated_bias(bias, graph).unsqueeze(1))  # + (C', 1, W), in place on the conv's output
    return aggregate_rows(conv2d(x, weight, bias), aggregation_matrix(graph, False))


# --- MCF: attention of joints to the parts of every grain -------------------------------------------------------

def weighted_pool(pool: Tensor, grain_weights: Tensor, grain_sizes: list[int]) -> Tensor:
    """``pool`` ``(V, P)`` with each grain's columns times that grain's weight."""
    return pool * grain_weights.repeat_interleave(torch.tensor(grain_sizes, device=pool.device))


def multi_grain_focus(query: Tensor, key: Tensor, value: Tensor, pool: Tensor, weighted: Tensor,
                      grain_sizes: list[int], n: int) -> tuple[Tensor, list[Tensor]]:
    """Every joint attends to the parts of each grain; ``query``, ``key``, ``value`` are joint rows
    ``(N*T, V, C)``, ``pool`` ``(V, P)`` pools joints to the parts of all grains, ``weighted`` is ``pool`` with
    each grain's columns times its weight. Returns the context ``(N*T, V, C)`` and one map ``(N, V, V_i)`` per grain.

    Pooling is linear, so it moves out of the products over features (C x T, the costly part): the joint-to-joint
    similarity is pooled instead of the keys, and the weighted sum over grains of pooled values times attention is
    one joint-to-joint mixing per sample.
    """
    nt, v, c = query.shape
    t = nt // n
    joints = torch.bmm(query, key.transpose(1, 2)).view(n, t, v, v).sum(dim=1)  # (N, V, V)
    similarity = joints @ pool / math.sqrt(c * t)  # (N, V, P)
    maps = [s.softmax(dim=-1) for s in similarity.split(grain_sizes, dim=-1)]  # (N, V, V_i) each
    mixing = torch.cat(maps, dim=-1) @ weighted.T  # (N, V, V)
    return torch.bmm(mixing.repeat_interleave(t, dim=0), value), maps  # (N*T, V, C)


# --- TDF: temporal weights from joint-pooled features -----------------------------------------------------------

def frame_differences(seq: Tensor) -> Tensor:
    """``(N, T, C)`` -> ``(N, T, C)``: next frame minus this one; the last frame, which has no successor, gets 0."""
    return F.pad(seq[:, 1:] - seq[:, :-1], (0, 0, 0, 1))


# --- pre-packed convolutions, for inference --------------------------------------------------------------------

def prepack(weight: Tensor, stride: tuple[int, int], padding: tuple[int, int], groups: int = 1) -> Tensor | None:
    """``weight`` ``(C', C / groups, kT, kV)`` reordered once into oneDNN's blocked layout for ``packed_conv2d``,
    which otherwise reorders it on every call (a fifth of a 256x256x9 convolution's time on the live window). These
    are PyTorch's private CPU ops (the ones torch.compile uses), so they are checked on a small input against
    ``conv2d``; returns None where they are missing or disagree."""
    if weight.device.type != "cpu" or weight.dtype != torch.float32 or not torch.backends.mkldnn.is_available():
        return None
    try:
        packed = torch._C._nn.mkldnn_reorder_conv2d_weight(weight.to_mkldnn(), list(padding), list(stride), [1, 1],
                                                          groups)
        _, c, kt, kv = weight.shape
        gen = torch.Generator().manual_seed(0)  # the probe leaves torch's global random state alone
        x = torch.randn(2, c * groups, 2 * kt + 1, 2 * kv + 1, generator=gen).contiguous(
            memory_format=torch.channels_last)
        bias = torch.randn(weight.shape[0], generator=gen)
        got = packed_conv2d(x, packed, bias, stride, padding, groups)
        if torch.allclose(got, conv2d(x, weight, bias, stride, padding, groups), rtol=1e-4, atol=1e-4):
            return packed
    except (AttributeError, RuntimeError):
        pass
    return None


def packed_conv2d(x: Tensor, packed: Tensor, bias: Tensor | None, stride: tuple[int, int],
                  padding: tuple[int, int], groups: int = 1) -> Tensor:
    """``conv2d`` with a weight from ``prepack``; ``x`` channels-last float32 on the CPU, and so is the result."""
    return torch.ops.mkldnn._convolution_pointwise(x, packed, bias, list(padding), list(stride), [1, 1], groups,
                                                   "none", [], "")
