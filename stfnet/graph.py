"""Adjacency partitions of a layout: the ST-GCN "spatial" strategy.

Convention: ``A[k, v, w]`` carries features from source joint ``v`` to target joint ``w``
(the model computes ``x @ A_k`` over the joint axis), and every column ``w`` of ``sum_k A[k]`` sums to 1
(ST-GCN's ``A D^-1`` normalisation of the adjacency with self-loops).

Partitions, for a target joint ``w`` (the paper's Sec. III-A):
  0. root: ``w`` itself;
  1. centripetal: neighbours of ``w`` closer to the center than ``w`` (or as close);
  2. centrifugal: neighbours of ``w`` farther from the center.
ST-GCN's code stores groups 1 and 2 in the opposite order; the order only matters for loading its weights.
"""

from __future__ import annotations

import numpy as np

from stfnet.layouts import Layout


def hop_distance(layout: Layout) -> np.ndarray:
    """(V, V) shortest-path hop counts over the skeleton edges (inf where unreachable)."""
    v = layout.num_joints
    dist = np.full((v, v), np.inf)
    np.fill_diagonal(dist, 0)
    for a, b in layout.edges:
        dist[a, b] = dist[b, a] = 1
    for k in range(v):  # Floyd-Warshall: V is tiny
        dist = np.minimum(dist, dist[:, k : k + 1] + dist[k : k + 1, :])
    return dist


def spatial_partitions(layout: Layout) -> np.ndarray:
    """(3, V, V) float32: root, centripetal and centrifugal partitions, normalised together."""
    v = layout.num_joints
    hops = hop_distance(layout)
    adjacency = (hops <= 1).astype(np.float64)  # self-loops included
    norm = adjacency / adjacency.sum(axis=0, keepdims=True)  # A D^-1: columns sum to 1
    to_center = hops[:, layout.center]
    parts = np.zeros((3, v, v))
    for src in range(v):
        for dst in range(v):
            if hops[src, dst] == 0:
                parts[0, src, dst] = norm[src, dst]
            elif hops[src, dst] == 1:
                k = 1 if to_center[src] <= to_center[dst] else 2
                parts[k, src, dst] = norm[src, dst]
    return parts.astype(np.float32)
