import warnings

import pytest
import torch
from reference_stfnet import ReferenceSTFNet

from stfnet import STFNet, STFNetConfig, get_layout, stgcn_config

TINY = {"base_channels": 8, "num_classes": 5}

VARIANTS = {
    "stfnet": STFNetConfig(**TINY),
    "stgcn": stgcn_config(**TINY),
    "mask_only": STFNetConfig(mcf=False, tdf=False, **TINY),
    "mask_tdf": STFNetConfig(mcf=False, **TINY),
    "mask_mcf": STFNetConfig(tdf=False, **TINY),
    "tdf_motion": STFNetConfig(tdf_motion=True, **TINY),
    "one_grain": STFNetConfig(num_grains=1, **TINY),
    "ntu_three_grains": STFNetConfig(layout="ntu25", **TINY),
    "ntu_two_grains": STFNetConfig(layout="ntu25", num_grains=2, **TINY),
    "dropout": STFNetConfig(dropout=0.5, **TINY),
    "mcf_full_init": STFNetConfig(mcf_identity_init=False, **TINY),
}


def _input(cfg, n=2, t=16, m=2):
    v = STFNet(cfg).layout.num_joints
    return torch.randn(n, cfg.in_channels, t, v, m)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_variant_runs_and_every_parameter_gets_a_gradient(name):
    cfg = VARIANTS[name]
    model = STFNet(cfg).train()
    for block in model.blocks:  # a fresh MCF is the identity (zero-initialised output BN), which would
        if block.mcf is not None:  # hide the gradient of everything inside it: wake it up first
            torch.nn.init.ones_(block.mcf.bn.weight)
    x = _input(cfg)
    logits = model(x)
    assert logits.shape == (2, 5)
    assert torch.isfinite(logits).all()
    logits.logsumexp(dim=1).sum().backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{pname} got no gradient"
        assert torch.isfinite(p.grad).all(), f"{pname} has a non-finite gradient"
    zero = [n for n, p in model.named_parameters() if p.grad.abs().sum() == 0]
    assert not zero, f"parameters with an all-zero gradient: {zero}"


def test_forward_with_maps_shapes_and_ranges():
    cfg = STFNetConfig(layout="ntu25", **TINY)
    model = STFNet(cfg).eval()
    x = _input(cfg, n=3, t=20, m=2)
    with torch.no_grad():
        logits, maps = model.forward_with_maps(x)
        torch.testing.assert_close(logits, model(x))
    assert sorted(maps.mcf) == [4, 5, 6, 7, 8, 9]
    assert sorted(maps.tdf) == list(range(1, 10))
    for layer, grains in maps.mcf.items():
        assert [g.shape for g in grains] == [(6, 25, 25), (6, 25, 10), (6, 25, 5)]
        for g in grains:
            torch.testing.assert_close(g.sum(-1), torch.ones(6, 25))
            assert (g >= 0).all()
        assert maps.mcf_grain_weights[layer].shape == (3,)
    frames = {1: 20, 2: 20, 3: 20, 4: 20, 5: 10, 6: 10, 7: 10, 8: 5, 9: 5}  # stride 2 in layers 4 and 7
    for layer, w in maps.tdf.items():
        channels = 8 if layer <= 3 else 16 if layer <= 6 else 32
        assert w.shape == (6, channels, frames[layer])
        assert ((w > 0) & (w < 1)).all()


def test_stgcn_config_has_no_focus_modules_and_fewer_parameters():
    full, base = STFNet(STFNetConfig(**TINY)), STFNet(stgcn_config(**TINY))
    assert all(b.mcf is None and b.tdf is None and b.scn.mask is None for b in base.blocks)
    assert sum(p.numel() for p in base.parameters()) < sum(p.numel() for p in full.parameters())
    _, maps = base.forward_with_maps(_input(stgcn_config(**TINY)))
    assert maps.mcf == {} and maps.tdf == {}


def test_mask_starts_equal_to_the_graph():
    model = STFNet(STFNetConfig(**TINY))
    scn = model.blocks[3].scn
    torch.testing.assert_close(scn.mask.detach(), scn.graph)


@torch.no_grad()
def test_a_fresh_mcf_is_the_identity_unless_it_starts_full():
    features = torch.randn(4, 16, 16, 18)  # (N*M, C, T, V) of res-layer 4 with base_channels 8
    for identity_init in (True, False):
        mcf = STFNet(STFNetConfig(mcf_identity_init=identity_init, **TINY)).eval().blocks[4].mcf
        assert float(mcf.bn.weight.mean()) == (0.0 if identity_init else 1.0)
        assert torch.equal(mcf(features)[0], features) == identity_init


def test_one_person_input_works_for_a_two_person_trained_model():
    model = STFNet(STFNetConfig(**TINY)).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 12, 18, 1)).shape == (1, 5)


@pytest.mark.parametrize(
    "shape, message",
    [((3, 16, 18, 1), "rank 4"), ((1, 2, 16, 18, 1), "expects 3 channels and 18 joints, got 2 channels"),
     ((1, 3, 16, 25, 1), "got 3 channels and 25 joints")],
)
def test_bad_input_is_named(shape, message):
    with pytest.raises(ValueError, match=message):
        STFNet(STFNetConfig(**TINY))(torch.randn(*shape))


def test_too_many_grains_is_refused():
    with pytest.raises(ValueError, match="num_grains must be between 1 and 2 for layout 'openpose18'"):
        STFNet(STFNetConfig(num_grains=3, **TINY))


# --- the fast computation (channels-last, oneDNN, reassociated MCF) is the same function as before ------------------
# Same math, different float rounding: a tiny randomly initialised model can amplify float32 rounding a lot (a few
# percent in a gradient now and then), so "the same function" is tested in float64, where both must agree to rounding,
# and float32 training is compared over a few small steps.

def _train_losses(model: torch.nn.Module, steps: int, lr: float, dtype: torch.dtype = torch.float32) -> list[float]:
    """Losses of a few SGD steps on fixed random batches (dropout draws from a fixed seed too)."""
    from train.loop import optimization_step

    gen = torch.Generator().manual_seed(0)
    cfg = model.cfg
    v = get_layout(cfg.layout).num_joints
    model.to(dtype)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True)
    torch.manual_seed(0)
    losses = []
    for _ in range(steps):
        x = torch.randn(4, cfg.in_channels, 12, v, 2, generator=gen, dtype=dtype)
        y = torch.randint(0, cfg.num_classes, (4,), generator=gen)
        losses.append(optimization_step(model.train(), optimizer, x, y, None)[0].item())
    return losses


def _twins(cfg: STFNetConfig) -> tuple[STFNet, ReferenceSTFNet]:
    reference = ReferenceSTFNet(cfg)
    model = STFNet(cfg)
    assert {k: v.shape for k, v in model.state_dict().items()} == \
        {k: v.shape for k, v in reference.state_dict().items()}
    model.load_state_dict(reference.state_dict())
    return model, reference


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_training_is_the_same_function_as_before_the_speed_work(name):
    model, reference = _twins(VARIANTS[name])
    expected = _train_losses(reference, steps=3, lr=0.05, dtype=torch.float64)
    torch.testing.assert_close(_train_losses(model, steps=3, lr=0.05, dtype=torch.float64), expected,
                               rtol=1e-10, atol=1e-12)
    for (key, got), want in zip(model.state_dict().items(), reference.state_dict().values(), strict=True):
        torch.testing.assert_close(got, want, rtol=1e-8, atol=1e-10, msg=f"{key} differs")


@pytest.mark.parametrize("name", ["stfnet", "stgcn", "tdf_motion", "ntu_three_grains"])
def test_float32_training_matches_the_model_before_the_speed_work(name):
    model, reference = _twins(VARIANTS[name])
    torch.testing.assert_close(_train_losses(model, steps=3, lr=0.01), _train_losses(reference, steps=3, lr=0.01),
                               rtol=1e-4, atol=1e-6)


def test_training_is_the_same_without_onednn():
    """ops.conv2d calls oneDNN directly; with it switched off the same model trains through F.conv2d."""
    model, _ = _twins(VARIANTS["stfnet"])
    plain = STFNet(VARIANTS["stfnet"])
    plain.load_state_dict(model.state_dict())
    with warnings.catch_warnings(), torch.backends.mkldnn.flags(enabled=False):
        warnings.filterwarnings("ignore", message="TF32 acceleration")  # torch announces a GPU feature
        expected = _train_losses(plain, steps=3, lr=0.01)
    torch.testing.assert_close(_train_losses(model, steps=3, lr=0.01), expected, rtol=1e-4, atol=1e-6)


def test_features_stay_channels_last_through_every_block():
    """A block that returned channels-first features would make every later convolution copy its input."""
    model = STFNet(VARIANTS["stfnet"]).eval()
    layouts = []
    for block in model.blocks:
        block.register_forward_hook(
            lambda _m, _i, out: layouts.append(out[0].is_contiguous(memory_format=torch.channels_last)))
    with torch.no_grad():
        model(_input(VARIANTS["stfnet"], n=2, t=16, m=2))
    assert layouts == [True] * len(model.blocks)


def test_conv_weights_are_stored_channels_last_with_the_same_state_dict_values():
    model, reference = _twins(VARIANTS["stfnet"])
    for (key, got), want in zip(model.state_dict().items(), reference.state_dict().values(), strict=True):
        assert torch.equal(got, want), key
    assert model.blocks[1].tcn[0].weight.is_contiguous(memory_format=torch.channels_last)
