import numpy as np
import pytest

from stfnet.graph import hop_distance, spatial_partitions
from stfnet.layouts import get_layout


def _expected(layout):
    """The partitions computed independently: BFS depths and degrees, no matrices shared with graph.py."""
    v = layout.num_joints
    neighbours = {j: set() for j in range(v)}
    for a, b in layout.edges:
        neighbours[a].add(b)
        neighbours[b].add(a)
    depth, frontier = {layout.center: 0}, [layout.center]
    while frontier:
        nxt = []
        for j in frontier:
            for k in neighbours[j]:
                if k not in depth:
                    depth[k] = depth[j] + 1
                    nxt.append(k)
        frontier = nxt
    expected = np.zeros((3, v, v))
    for dst in range(v):
        deg = len(neighbours[dst]) + 1
        expected[0, dst, dst] = 1 / deg
        for src in neighbours[dst]:
            expected[1 if depth[src] < depth[dst] else 2, src, dst] = 1 / deg
    return expected


@pytest.mark.parametrize("name", ["openpose18", "ntu25"])
def test_spatial_partitions_match_independent_computation(name):
    layout = get_layout(name)
    parts = spatial_partitions(layout)
    v = layout.num_joints
    assert parts.shape == (3, v, v) and parts.dtype == np.float32
    np.testing.assert_allclose(parts, _expected(layout), atol=1e-6)
    # V self-loops; every edge once toward the center and once away from it
    assert [int((p > 0).sum()) for p in parts] == [v, v - 1, v - 1]
    np.testing.assert_allclose(parts.sum(axis=(0, 1)), np.ones(v), atol=1e-6)  # columns sum to 1
    # the centripetal and centrifugal groups are each other's transpose in pattern
    np.testing.assert_array_equal(parts[1] > 0, (parts[2] > 0).T)
    # the root partition is diagonal
    np.testing.assert_array_equal(parts[0], np.diag(np.diag(parts[0])))


def test_openpose18_center_has_one_centrifugal_entry_per_neighbour():
    layout = get_layout("openpose18")
    parts = spatial_partitions(layout)
    # the neck (center) gathers from nose and both shoulders, all farther from the center: weight 1/4 each
    np.testing.assert_allclose(parts[2][:, 1][[0, 2, 5]], [0.25, 0.25, 0.25])
    assert parts[1][:, 1].sum() == 0
    assert hop_distance(layout)[4, 1] == 3  # right wrist -> elbow -> shoulder -> neck
