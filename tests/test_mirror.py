import numpy as np
import pytest
import torch

from stfnet import STFNet, STFNetConfig
from stfnet.checkpoint import load_checkpoint, make_checkpoint, save_checkpoint
from stfnet.features import NormalizeConfig
from stfnet.layouts import get_layout
from stfnet.mirror import MirrorAveraged, mirror_permutation
from train.data.augment import mirror

OP18 = get_layout("openpose18")
TINY = {"base_channels": 8}


def _checkpoint(extra: dict) -> object:
    torch.manual_seed(0)
    model = STFNet(STFNetConfig(num_classes=4, **TINY)).eval()
    return make_checkpoint(model, ["a", "b", "c", "d"], "joint", NormalizeConfig(coords=2, use_score=True), extra)


def test_permutation_swaps_left_and_right_and_keeps_the_middle():
    perm = mirror_permutation(OP18)
    joints = OP18.joints
    assert joints[perm[joints.index("l_wrist")]] == "r_wrist" and joints[perm[joints.index("r_ankle")]] == "l_ankle"
    assert perm[joints.index("neck")] == joints.index("neck") and sorted(perm) == list(range(18))


def test_averaged_answer_is_the_mean_over_the_window_and_its_mirror_image():
    ckpt = _checkpoint({"mirror_average": True})
    plain, averaged = ckpt.build_model(mirror_average=False), ckpt.build_model()
    assert isinstance(averaged, MirrorAveraged) and not isinstance(plain, MirrorAveraged)
    x = torch.randn(3, 3, 16, 18, 1)
    flipped = torch.from_numpy(np.stack([mirror(s, OP18) for s in x.numpy()]))  # the training augmentation's mirror
    with torch.no_grad():
        expected = (plain(x) + plain(flipped)) / 2
        torch.testing.assert_close(averaged(x), expected)
        torch.testing.assert_close(averaged(flipped), averaged(x), rtol=1e-4, atol=1e-5)  # blind to the side
        assert not torch.allclose(plain(x), plain(flipped), atol=1e-3)  # while the plain model is not


def test_fused_averaged_model_gives_the_same_logits_and_the_inputs_own_maps():
    ckpt = _checkpoint({"mirror_average": True})
    x = torch.randn(2, 3, 16, 18, 1)
    with torch.no_grad():
        logits, maps = ckpt.build_model(fused=True).forward_with_maps(x)
        torch.testing.assert_close(logits, ckpt.build_model()(x), rtol=1e-4, atol=1e-4)
        _, own = ckpt.build_model(mirror_average=False).forward_with_maps(x)
    layer = max(own.mcf)
    assert maps.mcf[layer][0].shape[0] == 4  # the batch and its mirror image
    torch.testing.assert_close(maps.mcf[layer][0][:2], own.mcf[layer][0], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(("extra", "expected"), [
    ({"mirror_average": True}, True),
    ({"mirror_average": False, "train_config": {"augment": {"mirror": 0.5}}}, False),
    ({"train_config": {"augment": {"mirror": 0.5}}}, True),  # older checkpoints: trained with mirroring
    ({"train_config": {"augment": {"mirror": 0.0}}}, False),
    ({}, False),
])
def test_checkpoint_says_whether_it_averages(tmp_path, extra, expected):
    save_checkpoint(_checkpoint(extra), tmp_path / "m.pt")
    loaded = load_checkpoint(tmp_path / "m.pt")
    assert loaded.mirror_average is expected
    assert isinstance(loaded.build_model(), MirrorAveraged) is expected
