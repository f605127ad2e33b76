import numpy as np
import pytest

from stfnet.features import (
    NormalizeConfig,
    fuse_scores,
    normalize,
    prepare,
    resample_indices,
    select_persons,
    to_stream,
)
from stfnet.layouts import get_layout

OP18 = get_layout("openpose18")


def _skeleton(m=1, t=4, v=18, c=2, seed=0):
    return np.random.default_rng(seed).normal(size=(m, t, v, c)).astype(np.float32)


def test_normalize_centers_on_first_frame_and_scales_by_mean_bone():
    kp = _skeleton(t=3)
    cfg = NormalizeConfig(coords=2, use_score=False, center="first_frame", scale="bones")
    out = normalize(kp, None, OP18, cfg)
    assert out.shape == (2, 3, 18, 1)
    np.testing.assert_allclose(out[:, 0, OP18.center, 0], 0, atol=1e-6)
    centered = kp[0] - kp[0, 0, OP18.center]
    bones = np.array([np.linalg.norm(centered[t, c] - centered[t, p]) for t in range(3) for c, p in OP18.edges])
    np.testing.assert_allclose(out[:, :, :, 0].transpose(1, 2, 0), centered / bones.mean(), rtol=1e-5)


def test_normalize_frame_centering_and_score_channel():
    kp = _skeleton(t=5)
    scores = np.full((1, 5, 18), 0.5, np.float32)
    out = normalize(kp, scores, OP18, NormalizeConfig(coords=2, use_score=True, center="frame", scale="none"))
    assert out.shape == (3, 5, 18, 1)
    np.testing.assert_allclose(out[:2, :, OP18.center], 0, atol=1e-6)
    np.testing.assert_allclose(out[2], 0.5)


def test_missing_joints_are_zeroed_and_ignored_by_scaling():
    kp = _skeleton(t=2)
    scores = np.ones((1, 2, 18), np.float32)
    scores[0, :, 4] = 0  # right wrist unseen
    kp_far = kp.copy()
    kp_far[0, :, 4] = 1e6  # garbage where nothing was seen must not matter
    cfg = NormalizeConfig(coords=2)
    a, b = normalize(kp, scores, OP18, cfg), normalize(kp_far, scores, OP18, cfg)
    np.testing.assert_allclose(a, b)
    assert (a[:, :, 4] == 0).all()


def test_person_selection_keeps_the_highest_scores_and_pads():
    kp = _skeleton(m=3, t=2)
    scores = np.stack([np.full((2, 18), s, np.float32) for s in (0.2, 0.9, 0.5)])
    sel_kp, sel_sc = select_persons(kp, scores, 2)
    np.testing.assert_array_equal(sel_kp, kp[[1, 2]])
    padded_kp, padded_sc = select_persons(kp[:1], scores[:1], 3)
    assert padded_kp.shape[0] == 3 and (padded_kp[1:] == 0).all() and (padded_sc[1:] == 0).all()


def test_normalize_rejects_wrong_shapes():
    with pytest.raises(ValueError, match=r"\(M, T, V, C\)"):
        normalize(np.zeros((4, 18, 2)), None, OP18, NormalizeConfig(coords=2))
    with pytest.raises(ValueError, match="17 joints, layout 'openpose18' has 18"):
        normalize(np.zeros((1, 4, 17, 2)), None, OP18, NormalizeConfig(coords=2))
    with pytest.raises(ValueError, match="2 coordinates, the model needs 3"):
        normalize(np.zeros((1, 4, 18, 2)), None, OP18, NormalizeConfig(coords=3))


def test_streams_against_hand_computed_values():
    x = np.random.default_rng(1).normal(size=(3, 4, 18, 1)).astype(np.float32)
    bone = to_stream(x, OP18, "bone", coords=2)
    for child, parent in OP18.edges:
        np.testing.assert_allclose(bone[:2, :, child], x[:2, :, child] - x[:2, :, parent])
    np.testing.assert_allclose(bone[:2, :, OP18.center], 0)
    np.testing.assert_allclose(bone[2], x[2])  # the score channel is kept
    motion = to_stream(x, OP18, "joint_motion", coords=2)
    np.testing.assert_allclose(motion[:2, :3], x[:2, 1:] - x[:2, :3])
    np.testing.assert_allclose(motion[:2, 3], 0)
    bone_motion = to_stream(x, OP18, "bone_motion", coords=2)
    np.testing.assert_allclose(bone_motion[:2, :3], bone[:2, 1:] - bone[:2, :3], atol=1e-6)
    np.testing.assert_array_equal(to_stream(x, OP18, "joint", coords=2), x)
    with pytest.raises(ValueError, match="unknown stream 'bones'"):
        to_stream(x, OP18, "bones", coords=2)


def test_resampling_is_uniform():
    np.testing.assert_array_equal(resample_indices(10, 5), [1, 3, 5, 7, 9])
    np.testing.assert_array_equal(resample_indices(3, 6), [0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(resample_indices(100, 4, start=10, span=8), [11, 13, 15, 17])


def test_prepare_gives_the_model_window():
    out = prepare(_skeleton(m=2, t=37, c=3), None, OP18, NormalizeConfig(num_frames=16, num_persons=2), "bone")
    assert out.shape == (3, 16, 18, 2) and out.dtype == np.float32


def test_fuse_scores_is_a_weighted_sum():
    a, b = np.array([[1.0, 0.0]]), np.array([[0.0, 2.0]])
    np.testing.assert_allclose(fuse_scores({"joint": a, "bone": b}, {"joint": 2.0, "bone": 0.5}), [[2.0, 1.0]])
    np.testing.assert_allclose(fuse_scores({"joint": a, "bone": b}), [[1.0, 2.0]])
    with pytest.raises(ValueError, match="without scores: motion"):
        fuse_scores({"joint": a}, {"motion": 1.0})
