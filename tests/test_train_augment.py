"""Training-time augmentation and the dataset's reproducibility."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from train_helpers import tiny_dataset

from stfnet.features import NormalizeConfig
from stfnet.layouts import get_layout
from stfnet.mirror import mirror_permutation
from train.data.augment import AugmentConfig, arm_joints, arm_share, augment_coords, drop_scores, swap_arms
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


def _standing(shoulder_to_hip: float, arm_angle: float, frames: int = 5):
    """OpenPose-18 keypoints ``(1, T, V, 2)`` of an upright person with straight arms at ``arm_angle`` radians
    from hanging down, and all-seen scores."""
    j = {name: i for i, name in enumerate(OP18.joints)}
    kp = np.zeros((1, frames, 18, 2), np.float32)
    for side, x in (("r", -1.0), ("l", 1.0)):
        kp[0, :, j[f"{side}_shoulder"]] = (x, 0.0)
        kp[0, :, j[f"{side}_hip"]] = (x, shoulder_to_hip)
        kp[0, :, j[f"{side}_knee"]] = (x, 2 * shoulder_to_hip)
        direction = np.array([x * np.sin(arm_angle), np.cos(arm_angle)]) * shoulder_to_hip / 2
        kp[0, :, j[f"{side}_elbow"]] = kp[0, :, j[f"{side}_shoulder"]] + direction
        kp[0, :, j[f"{side}_wrist"]] = kp[0, :, j[f"{side}_shoulder"]] + 2 * direction
    kp[0, :, j["neck"]] = (0.0, 0.0)
    return kp, np.ones(kp.shape[:3], np.float32)


def test_arm_joints_are_the_joints_below_each_shoulder():
    names = [[OP18.joints[i] for i in (shoulder, *arm)] for shoulder, arm in arm_joints(OP18)]
    assert names == [["l_shoulder", "l_elbow", "l_wrist"], ["r_shoulder", "r_elbow", "r_wrist"]]
    ntu = {NTU.joints[shoulder]: [NTU.joints[i] for i in arm] for shoulder, arm in arm_joints(NTU)}
    assert ntu["r_shoulder"] == ["r_elbow", "r_wrist", "r_hand", "r_hand_tip", "r_thumb"]


def test_swap_arms_moves_the_arms_as_the_donor_does_at_this_body_size():
    own, own_scores = _standing(shoulder_to_hip=2.0, arm_angle=0.0)
    donor, donor_scores = _standing(shoulder_to_hip=4.0, arm_angle=np.pi / 2)  # arms held out sideways
    donor_scores[0, :, OP18.joints.index("l_wrist")] = 0  # the donor's left wrist was never seen
    out, scores = swap_arms(own, own_scores, donor + 100.0, donor_scores, OP18)  # the donor stands elsewhere
    j = OP18.joints.index
    np.testing.assert_allclose(out[0, :, j("r_wrist")], np.tile([-1.0 - 2.0, 0.0], (5, 1)), atol=1e-5)
    np.testing.assert_allclose(out[0, :, j("l_elbow")], np.tile([1.0 + 1.0, 0.0], (5, 1)), atol=1e-5)
    assert (scores[0, :, j("l_wrist")] == 0).all() and (scores[0, :, j("r_wrist")] == 1).all()
    body = [i for i in range(18) if OP18.joints[i].split("_")[-1] not in ("elbow", "wrist")]
    np.testing.assert_array_equal(out[:, :, body], own[:, :, body])
    assert own[0, 0, j("r_wrist"), 1] == 2.0  # the input is not changed in place


def test_swap_arms_swaps_nothing_when_a_body_has_no_torso():
    own, own_scores = _standing(2.0, 0.0)
    donor, donor_scores = _standing(4.0, 1.0)
    donor_scores[0, :, [OP18.joints.index("l_hip"), OP18.joints.index("r_hip")]] = 0
    assert swap_arms(own, own_scores, donor, donor_scores, OP18) is None
    assert swap_arms(donor, donor_scores, own, own_scores, OP18) is None


def test_drop_arms_hides_elbows_and_wrists_only():
    scores = np.ones((1, 4, 18), np.float32)
    out = drop_scores(scores, OP18, AugmentConfig(drop_arms=1.0), np.random.default_rng(0))
    hidden = {OP18.joints[i] for i in np.flatnonzero(out[0, 0] == 0)}
    assert hidden == {"l_elbow", "l_wrist", "r_elbow", "r_wrist"}
    assert (drop_scores(scores, OP18, AugmentConfig(), np.random.default_rng(0)) == 1).all()


def test_swapped_arms_change_only_the_arms_and_move_their_share_of_the_label(tmp_path):
    data = tiny_dataset(tmp_path / "d.pkl")
    anns = split_annotations(data, "train")
    norm = NormalizeConfig(num_frames=8, coords=2, use_score=True, center="none", scale="none")
    classes = len(data["classes"])
    swapped = SkeletonDataset(anns, OP18, norm, "joint", AugmentConfig(**{**STILL.__dict__, "swap_arms": 1.0}),
                              num_classes=classes)
    still = SkeletonDataset(anns, OP18, norm, "joint", STILL)
    arms = {OP18.joints.index(n) for n in ("l_elbow", "l_wrist", "r_elbow", "r_wrist")}
    share = arm_share(OP18)
    assert share == 4 / 18 and arm_share(OP18, (14, 15, 16, 17)) == 4 / 14
    mixed = 0
    for i in range(len(anns)):
        (x, target), (plain, label) = swapped[i], still[i]
        changed = set(np.flatnonzero((x != plain).any(dim=(0, 1, 3)).numpy()))
        assert changed <= arms
        assert target.shape == (classes,) and float(target.sum()) == pytest.approx(1.0)
        assert float(target[label]) >= 1 - share - 1e-6  # own label keeps the body's share at least
        if changed:
            mixed += 1
            assert sorted(target[target > 0].tolist())[0] == pytest.approx(share) or target[label] == 1.0
        else:
            assert float(target[label]) == 1.0
    assert mixed > 0
    torch.testing.assert_close(swapped[2][0], swapped[2][0], rtol=0, atol=0)
    with pytest.raises(ValueError, match="num_classes"):
        SkeletonDataset(anns, OP18, norm, "joint", AugmentConfig(swap_arms=0.5))
