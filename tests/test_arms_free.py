import numpy as np
import pytest
import torch
from torch import nn

from stfnet import STFNet, STFNetConfig
from stfnet.arms_free import ArmsFreeSecondReading, arm_joints
from stfnet.checkpoint import load_checkpoint, make_checkpoint, save_checkpoint
from stfnet.features import NormalizeConfig, prepare
from stfnet.layouts import get_layout
from stfnet.mirror import MirrorAveraged
from stfnet.model import FocusMaps

OP18 = get_layout("openpose18")
NORM = NormalizeConfig(num_frames=16, coords=2, use_score=True, center="first_frame", scale="bones")


def _skeleton(rng: np.random.Generator, frames: int = 16) -> tuple[np.ndarray, np.ndarray]:
    keypoints = rng.normal(size=(1, frames, 18, 2)).astype(np.float32) * 50 + 200
    scores = rng.uniform(0.3, 1.0, size=(1, frames, 18)).astype(np.float32)
    scores[:, :, 14:] = 0  # eyes and ears unseen, as in the live layout
    return keypoints, scores


def _checkpoint(extra: dict, stream: str = "joint") -> object:
    torch.manual_seed(0)
    model = STFNet(STFNetConfig(num_classes=4, base_channels=8)).eval()
    return make_checkpoint(model, ["a", "b", "c", "d"], stream, NORM, extra)


class _Scripted(nn.Module):
    """Logits that depend only on whether the right wrist is seen: ``with_arms`` if so, else ``without``; its
    "features" are its input, so tests can tell which reading they came from."""

    def __init__(self, with_arms: list[float], without: list[float]) -> None:
        super().__init__()
        self.with_arms, self.without = torch.tensor(with_arms), torch.tensor(without)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seen = (x[:, 2, :, OP18.joints.index("r_wrist"), 0] > 0).any(dim=1, keepdim=True)
        return torch.where(seen, self.with_arms, self.without)

    def forward_with_maps(self, x: torch.Tensor) -> tuple[torch.Tensor, FocusMaps]:
        return self(x), FocusMaps(mcf={}, mcf_grain_weights={}, tdf={}, features=x.permute(0, 4, 1, 2, 3))


def test_arm_joints_are_the_elbows_and_wrists():
    assert sorted(OP18.joints[j] for j in arm_joints(OP18)) == ["l_elbow", "l_wrist", "r_elbow", "r_wrist"]


def test_hiding_the_arms_in_the_input_equals_normalising_with_the_arms_unseen():
    rng = np.random.default_rng(0)
    reading = ArmsFreeSecondReading(nn.Identity(), OP18, 2, True, True, 1.0, 0.2)
    for _ in range(3):
        keypoints, scores = _skeleton(rng)
        hidden_scores = scores.copy()
        hidden_scores[:, :, arm_joints(OP18)] = 0
        x = prepare(keypoints, scores, OP18, NORM, "joint")
        expected = prepare(keypoints, hidden_scores, OP18, NORM, "joint")
        got = reading.arms_hidden(torch.from_numpy(x[None]))[0].numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
        zeroed = x.copy()
        zeroed[:, :, arm_joints(OP18)] = 0
        assert not np.allclose(got, zeroed, atol=1e-3)  # the rest re-scaled, not only the arms zeroed


@pytest.mark.parametrize(("free", "expected"), [
    ([0.0, 4.0, 0.0, 0.0], "free"),  # the arms-free reading is sure, the plain one is not: it wins
    ([0.0, 1.2, 0.0, 0.0], "plain"),  # more confident, but not by the margin
])
def test_the_arms_free_reading_wins_only_by_the_margin(free, expected):
    plain = [0.8, 0.0, 0.9, 0.0]
    reading = ArmsFreeSecondReading(_Scripted(plain, free), OP18, 2, True, True, 1.0, 0.2)
    x = torch.from_numpy(prepare(*_skeleton(np.random.default_rng(1)), OP18, NORM, "joint")[None])
    torch.testing.assert_close(reading(x)[0], torch.tensor(free if expected == "free" else plain))
    logits, maps = reading.forward_with_maps(x)
    torch.testing.assert_close(logits, reading(x))
    # class evidence is drawn from the features of the reading that answered
    answered = reading.arms_hidden(x) if expected == "free" else x
    torch.testing.assert_close(maps.features[:1], answered.permute(0, 4, 1, 2, 3))


def test_checkpoint_setting_builds_the_second_reading_around_the_mirror_average(tmp_path):
    save_checkpoint(_checkpoint({"arms_free_margin": 0.2, "mirror_average": True, "temperature": 1.5}),
                    tmp_path / "m.pt")
    ckpt = load_checkpoint(tmp_path / "m.pt")
    model = ckpt.build_model()
    assert isinstance(model, ArmsFreeSecondReading) and isinstance(model.model, MirrorAveraged)
    assert model.margin == 0.2 and model.temperature == 1.5
    assert isinstance(ckpt.build_model(mirror_average=False, arms_free=False), STFNet)
    assert not isinstance(_checkpoint({"arms_free_margin": 0.2}, stream="bone").build_model(), ArmsFreeSecondReading)
    assert not isinstance(_checkpoint({}).build_model(), ArmsFreeSecondReading)


def test_fused_second_reading_gives_the_same_logits_and_the_inputs_own_maps():
    ckpt = _checkpoint({"arms_free_margin": 0.0})
    rng = np.random.default_rng(2)
    x = torch.from_numpy(np.stack([prepare(*_skeleton(rng), OP18, NORM, "joint") for _ in range(3)]))
    with torch.no_grad():
        logits, maps = ckpt.build_model(fused=True).forward_with_maps(x)
        torch.testing.assert_close(logits, ckpt.build_model()(x), rtol=1e-4, atol=1e-4)
        _, own = ckpt.build_model(arms_free=False).forward_with_maps(x)
    layer = max(own.mcf)
    assert maps.mcf[layer][0].shape[0] == 6  # the batch and its arms-free copy
    torch.testing.assert_close(maps.mcf[layer][0][:3], own.mcf[layer][0], rtol=1e-4, atol=1e-4)
