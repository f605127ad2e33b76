"""``fuse_for_inference`` computes what the eager model computes in eval mode, on every config variant."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from reference_stfnet import ReferenceSTFNet

from stfnet import STFNet, STFNetConfig, stgcn_config
from stfnet.checkpoint import load_checkpoint
from stfnet.inference import fuse_for_inference
from stfnet.layouts import get_layout

TINY = {"base_channels": 8, "num_classes": 5}
ASSETS = Path(__file__).resolve().parents[1] / "assets"


def variants() -> dict[str, STFNetConfig]:
    """Every switch on and off, every number of grains of both layouts."""
    found = {
        "stfnet": STFNetConfig(**TINY),
        "stgcn": stgcn_config(**TINY),
        "no_mask": STFNetConfig(graph_mask=False, **TINY),
        "no_mcf": STFNetConfig(mcf=False, **TINY),
        "no_tdf": STFNetConfig(tdf=False, **TINY),
        "mask_only": STFNetConfig(mcf=False, tdf=False, **TINY),
        "tdf_motion": STFNetConfig(tdf_motion=True, **TINY),
        "dropout": STFNetConfig(dropout=0.5, **TINY),
        "mcf_full_init": STFNetConfig(mcf_identity_init=False, **TINY),
        "reductions": STFNetConfig(mcf_reduction=2, tdf_reduction=8, temporal_kernel=5, **TINY),
    }
    for layout in ("openpose18", "ntu25"):
        for grains in range(1, get_layout(layout).num_grains + 1):
            found[f"{layout}_{grains}_grains"] = STFNetConfig(layout=layout, num_grains=grains, **TINY)
    return found


VARIANTS = variants()


def perturbed(model: torch.nn.Module, seed: int = 1) -> torch.nn.Module:
    """Weights and BatchNorm statistics away from their initial values, so that folding them is exercised."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in [*model.named_parameters(), *model.named_buffers()]:
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
            elif name.endswith("running_mean") or name.endswith("mask"):
                t.add_(0.2 * torch.randn(t.shape, generator=gen))
            elif t.is_floating_point() and ("bn" in name or "tcn.1" in name or "residual.1" in name
                                            or "squeeze.1" in name or "grain_weights" in name):
                t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
    return model.eval()


def assert_same_outputs(expected: tuple, actual: tuple) -> None:
    """Logits within 1e-4 of their size; maps (probabilities, weights in (0, 1)) within 1e-4: a trained model's
    sharp attention turns float rounding of the similarities into a few 1e-5."""
    (logits, maps), (fused_logits, fused_maps) = expected, actual
    scale = logits.abs().max().item()
    torch.testing.assert_close(fused_logits, logits, rtol=1e-4, atol=1e-4 * scale)
    assert sorted(fused_maps.mcf) == sorted(maps.mcf) and sorted(fused_maps.tdf) == sorted(maps.tdf)
    for layer, grains in maps.mcf.items():
        assert len(fused_maps.mcf[layer]) == len(grains)
        for got, want in zip(fused_maps.mcf[layer], grains, strict=True):
            torch.testing.assert_close(got, want, rtol=0, atol=1e-4)
        torch.testing.assert_close(fused_maps.mcf_grain_weights[layer], maps.mcf_grain_weights[layer])
    for layer, weights in maps.tdf.items():
        torch.testing.assert_close(fused_maps.tdf[layer], weights, rtol=0, atol=1e-4)


@pytest.mark.parametrize("prepack", [True, False], ids=["prepacked", "plain"])
@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_fused_model_matches_the_eager_model(name, prepack):
    cfg = VARIANTS[name]
    model = perturbed(STFNet(cfg))
    fused = fuse_for_inference(model, prepack=prepack)
    v = model.layout.num_joints
    for n, t, m in [(1, 16, 1), (3, 12, 2)]:
        x = torch.randn(n, cfg.in_channels, t, v, m)
        with torch.no_grad():
            expected = model.forward_with_maps(x)
            assert_same_outputs(expected, fused.forward_with_maps(x))
            torch.testing.assert_close(fused(x), expected[0], rtol=1e-4, atol=1e-4 * expected[0].abs().max().item())


@pytest.mark.parametrize("name", ["stfnet", "stgcn", "tdf_motion", "ntu25_3_grains"])
def test_eager_and_fused_models_match_the_model_before_the_speed_work(name):
    cfg = VARIANTS[name]
    reference = perturbed(ReferenceSTFNet(cfg))
    model = STFNet(cfg).eval()
    assert {k: v.shape for k, v in model.state_dict().items()} == \
        {k: v.shape for k, v in reference.state_dict().items()}
    model.load_state_dict(reference.state_dict())
    x = torch.randn(2, cfg.in_channels, 16, model.layout.num_joints, 2)
    with torch.no_grad():
        expected = reference.forward_with_maps(x)
        assert_same_outputs(expected, model.forward_with_maps(x))
        assert_same_outputs(expected, fuse_for_inference(model).forward_with_maps(x))


def test_fusing_copies_the_model_and_leaves_it_untouched():
    model = STFNet(STFNetConfig(**TINY)).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fused = fuse_for_inference(model)
    assert model.training and not fused.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not any(p.requires_grad for p in fused.parameters())


def test_bad_input_is_named_by_the_fused_model_too():
    fused = fuse_for_inference(STFNet(STFNetConfig(**TINY)))
    with pytest.raises(ValueError, match="expects 3 channels and 18 joints, got 3 channels and 25 joints"):
        fused(torch.randn(1, 3, 16, 25, 1))


@pytest.mark.parametrize("path", sorted(ASSETS.glob("*.pt")), ids=lambda p: p.name)
def test_shipped_checkpoints_give_the_outputs_they_gave_before(path):
    ckpt = load_checkpoint(path)
    reference = ReferenceSTFNet(ckpt.model_config).eval()
    reference.load_state_dict(ckpt.state_dict)
    model = ckpt.build_model(mirror_average=False, arms_free=False)  # the network itself
    norm = ckpt.normalize
    x = torch.randn(2, norm.in_channels, norm.num_frames, ckpt.layout.num_joints, norm.num_persons)
    with torch.no_grad():
        expected = reference.forward_with_maps(x)
        assert_same_outputs(expected, model.forward_with_maps(x))
        assert_same_outputs(expected, fuse_for_inference(model).forward_with_maps(x))
