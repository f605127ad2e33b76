"""Training-time augmentation and the dataset's reproducibility."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from train_helpers import tiny_dataset

from stfnet.features import NormalizeConfig
from stfnet.layouts import get_layout
from stfnet.mirror import mirror_permutation
from train.data.augment import AugmentConfig, augment_coords
from train.data.dataset import SkeletonDataset
from train.data.format import split_annotations

OP18, NTU = get_layout("openpose18"), get_layout("ntu25")
STILL = AugmentConfig(crop=(1.0, 1.0), rotate=0.0, scale=0.0, shift=0.0)


def _input(layout, coords, seed=0, persons=1):
    return np.random.default_rng(seed).normal(size=(coords, 6, layout.num_joints, persons)).astype(np.float32)


def _bone_lengths(x, layout):
    child, parent = zip(*layout.edges, strict=True)
    return np.linalg.norm(x[:, :, list(child)] - x[:, :, list(parent)], axis=0)  # (T, E, M)


@pytest.mark.parametrize("layout, coords", [(OP18, 2), (NTU, 3)])
def test_mirror_swaps_left_and_right_and_negates_x(layout, coords):
    x = _input(layout, coords)
    out = augment_coords(x, layout, coords, AugmentConfig(**{**STILL.__dict__, "mirror": 1.0}),
                         np.random.default_rng(0))
    perm = mirror_permutation(layout)
    np.testing.assert_allclose(out[0], -x[0][:, perm], atol=1e-6)
    np.testing.assert_allclose(out[1:], x[1:][:, :, perm], atol=1e-6)
    names = layout.joints
    assert names[perm[names.index("l_wrist")]] == "r_wrist" and names[perm[names.index("r_ankle")]] == "l_ankle"
    center = names[layout.center]
    assert perm[layout.center] == layout.center and not center.startswith(("l_", "r_"))


def test_mirror_keeps_the_score_channel_with_its_joint():
    x = _input(OP18, 3)  # x, y, score
    x[2] = np.arange(18)[None, :, None]
    out = augment_coords(x, OP18, 2, AugmentConfig(**{**STILL.__dict__, "mirror": 1.0}), np.random.default_rng(0))
    np.testing.assert_array_equal(out[2, 0, :, 0], np.array(mirror_permutation(OP18), np.float32))


@pytest.mark.parametrize("layout, coords", [(OP18, 2), (NTU, 3)])
@pytest.mark.parametrize("mirror", [0.0, 1.0])
def test_unseen_joints_stay_zero(layout, coords, mirror):
    x = _input(layout, coords)
    x[:, :, [3, 7]] = 0  # unseen in every frame
    x[:, 2, 5] = 0  # unseen in one frame
    seen = np.abs(x).sum(axis=0) > 0  # (T, V, M)
    expected = seen[:, mirror_permutation(layout)] if mirror else seen
    cfg = AugmentConfig(rotate=30.0, scale=0.2, shift=0.3, jitter=0.05, mirror=mirror)
    for seed in range(3):
        out = augment_coords(x, layout, coords, cfg, np.random.default_rng(seed))
        np.testing.assert_array_equal(np.abs(out).sum(axis=0) > 0, expected)


def test_rotation_and_shift_preserve_3d_bone_lengths():
    x = _input(NTU, 3, persons=2)
    cfg = AugmentConfig(crop=(1.0, 1.0), rotate=40.0, scale=0.0, shift=0.5)
    for seed in range(5):
        out = augment_coords(x, NTU, 3, cfg, np.random.default_rng(seed))
        assert not np.allclose(out, x)
        np.testing.assert_allclose(_bone_lengths(out, NTU), _bone_lengths(x, NTU), rtol=1e-5)


def test_dataset_samples_are_reproducible(tmp_path):
    data = tiny_dataset(tmp_path / "d.pkl")
    anns = split_annotations(data, "train")
    norm = NormalizeConfig(num_frames=8, coords=2, use_score=True)
    aug = AugmentConfig(rotate=20.0, jitter=0.05, drop_joint=0.2, mirror=0.5)

    def make(seed=0, epoch=0):
        ds = SkeletonDataset(anns, OP18, norm, "bone", aug, seed=seed)
        ds.epoch = epoch
        return ds

    first = make()[3][0]
    torch.testing.assert_close(make()[3][0], first, rtol=0, atol=0)  # a new dataset object, same draw
    ds = make()
    _ = ds[5]  # other samples drawn in between do not matter
    torch.testing.assert_close(ds[3][0], first, rtol=0, atol=0)
    assert not torch.equal(make(epoch=1)[3][0], first) and not torch.equal(make(seed=1)[3][0], first)
    plain = SkeletonDataset(anns, OP18, norm, "bone")
    torch.testing.assert_close(plain[3][0], plain[3][0], rtol=0, atol=0)
