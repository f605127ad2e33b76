import json

import numpy as np
import pytest
from train_helpers import tiny_dataset

from main import main
from stfnet.errors import LayoutError
from stfnet.layouts import BUILTIN_LAYOUTS, REMAPS, SOURCE_JOINT_COUNTS, Layout, get_layout, part_pooling, remap


@pytest.mark.parametrize("name", sorted(BUILTIN_LAYOUTS))
def test_builtin_layouts_are_trees_with_one_parent_per_joint(name):
    layout = get_layout(name)
    assert len(layout.edges) == layout.num_joints - 1
    children = [c for c, _ in layout.edges]
    assert sorted(children + [layout.center]) == list(range(layout.num_joints))


def test_builtin_layout_facts():
    assert get_layout("openpose18").center == 1 and get_layout("openpose18").num_grains == 2
    assert get_layout("ntu25").center == 20 and get_layout("ntu25").num_grains == 3
    assert get_layout("coco17").num_joints == 17


def test_part_pooling_averages_each_part():
    layout = get_layout("openpose18")
    pool = part_pooling(layout, 1)
    assert pool.shape == (18, 6)
    np.testing.assert_allclose(pool.sum(axis=0), 1.0)
    np.testing.assert_array_equal(part_pooling(layout, 0), np.eye(18))


def _custom(**changes):
    d = {"name": "tri", "joints": ["a", "b", "c"], "edges": [[1, 0], [2, 1]], "center": 0, "parts": [[[0], [1, 2]]]}
    d.update(changes)
    return d


def test_custom_layout_round_trips_through_json(tmp_path):
    path = tmp_path / "tri.json"
    path.write_text(json.dumps(_custom()))
    layout = get_layout(str(path))
    assert layout == Layout.from_dict(layout.to_dict())
    assert layout.parents == (0, 0, 1)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"edges": [[1, 0], [2, 5]]}, "names joint 5, which does not exist"),
        ({"edges": [[1, 2], [2, 1]]}, "cycle"),
        ({"edges": [[1, 0]]}, "joint 2 ('c') is not connected to the center"),
        ({"parts": [[[0], [1, 7]]]}, "part 1 of grain 0 names joint 7"),
        ({"center": 3}, "center joint 3 does not exist"),
        ({"edges": [[1, 0], [1, 2]]}, "has two parents"),
    ],
)
def test_bad_custom_layouts_name_the_problem(changes, message):
    with pytest.raises(LayoutError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Layout.from_dict(_custom(**changes))


def test_unknown_layout_name_lists_the_known_ones():
    with pytest.raises(LayoutError, match="unknown layout 'body99'.*openpose18"):
        get_layout("body99")


def test_missing_or_malformed_layout_file_is_named(tmp_path):
    with pytest.raises(LayoutError, match="does not exist"):
        get_layout(str(tmp_path / "nope.json"))
    path = tmp_path / "short.json"
    path.write_text(json.dumps({"name": "x", "joints": ["a"]}))
    with pytest.raises(LayoutError, match=r"short\.json: layout is missing the field\(s\) center, edges, parts$"):
        get_layout(str(path))


@pytest.mark.parametrize("source, target", sorted(REMAPS))
def test_remap_tables_cover_every_target_joint(source, target):
    table = REMAPS[(source, target)]
    assert len(table) == get_layout(target).num_joints
    assert all(0 <= j < SOURCE_JOINT_COUNTS[source] for sources in table for j in sources)


def test_mediapipe_to_openpose18_puts_neck_between_shoulders():
    kp = np.zeros((2, 33, 2), np.float32)
    kp[:, 11] = [4.0, 2.0]  # left shoulder
    kp[:, 12] = [2.0, 2.0]  # right shoulder
    kp[:, 0] = [3.0, 1.0]
    scores = np.ones((2, 33), np.float32)
    scores[:, 12] = 0.25
    out, sc = remap(kp, scores, "mediapipe33", "openpose18")
    np.testing.assert_allclose(out[0, 1], [3.0, 2.0])  # neck
    np.testing.assert_allclose(out[0, 2], [2.0, 2.0])  # right shoulder
    assert sc[0, 1] == pytest.approx(0.25)  # the lowest of the two shoulders
    np.testing.assert_allclose(out[0, 0], [3.0, 1.0])


def test_kinect_to_ntu_missing_joints_sit_on_their_parent_with_score_zero():
    kp = np.random.default_rng(0).normal(size=(5, 20, 3)).astype(np.float32)
    out, sc = remap(kp, None, "kinect20", "ntu25")
    ntu = get_layout("ntu25")
    for j in (21, 22, 23, 24):  # hand tips and thumbs
        assert (sc[:, j] == 0).all()
        np.testing.assert_allclose(out[:, j], out[:, ntu.parents[j]])
    np.testing.assert_allclose(out[:, 3], kp[:, 0])  # head
    np.testing.assert_allclose(out[:, 2], (kp[:, 0] + kp[:, 1]) / 2)  # neck halfway
    assert (sc[:, 3] == 1).all()


def test_remap_rejects_wrong_joint_count_and_unknown_pairs():
    with pytest.raises(LayoutError, match="need 33 joints, got 18"):
        remap(np.zeros((1, 18, 2)), None, "mediapipe33", "openpose18")
    with pytest.raises(LayoutError, match="no remap from 'mediapipe33' keypoints to layout 'ntu25'"):
        remap(np.zeros((1, 33, 2)), None, "mediapipe33", "ntu25")


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


MALFORMED_FILES = {
    "invalid UTF-8": (b'{"name": "\xff\xfe"}', "is not UTF-8 text"),
    "deep nesting": (('{"name": "x", "joints": ' + _deep(100_000) + "}").encode(), "nested too deeply"),
    "huge integer": (json.dumps(_custom()).replace('"center": 0', '"center": ' + "9" * 5000).encode(),
                     "is not valid JSON"),
    "duplicate joint names": (json.dumps(_custom(joints=["a", "b", "a"])).encode(), "names a joint twice"),
    "non-integer center": (json.dumps(_custom(center=0.5)).encode(), "'center' must be a joint index"),
    "text center": (json.dumps(_custom(center="0")).encode(), "'center' must be a joint index"),
    "fractional edge": (json.dumps(_custom(edges=[[1, 0], [2, 1.5]])).encode(), "'edges' must be a list"),
    "absurd joint count": (json.dumps(_custom(joints=[f"j{i}" for i in range(100_000)])).encode(),
                           "100000 joints; at most 1000"),
    "not an object": (b"[1, 2, 3]", "must be a JSON object"),
    "not JSON": (b"{name: tri", "is not valid JSON"),
    "huge file": (b" " * 2_000_000 + b"{}", "larger than 1000 kB"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED_FILES))
def test_a_malformed_layout_file_gives_one_sentence_and_exit_2(case, tmp_path, capsys):
    content, message = MALFORMED_FILES[case]
    (tmp_path / "layout.json").write_bytes(content)
    tiny_dataset(tmp_path / "d.npz")
    out = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "d.npz"), "--out", str(out), "--layout",
                 str(tmp_path / "layout.json")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err and not out.exists()


def test_layout_validation_is_linear_in_the_joint_count():
    # a chain of 1000 joints: walking every joint up to the center would take a million steps per check;
    # one breadth-first pass takes a thousand (no clock: a quadratic check would still pass, but slowly)
    v = 1000
    chain = Layout.from_dict({"name": "chain", "joints": [f"j{i}" for i in range(v)],
                              "edges": [[i, i - 1] for i in range(1, v)], "center": 0, "parts": []})
    assert chain.parents[-1] == v - 2
    with pytest.raises(LayoutError, match="cycle through joint"):
        Layout.from_dict({"name": "loop", "joints": [f"j{i}" for i in range(v)],
                          "edges": [[i, i - 1] for i in range(2, v)] + [[1, v - 1]], "center": 0, "parts": []})
