"""`main.py explain`: the figures are labelled from the layout and show exactly the model's maps for the input."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
from realtime_fakes import FakePose, tiny_checkpoint, write_video
from train_helpers import CLASSES, tiny_dataset, tiny_train_config

from main import main
from stfnet.checkpoint import load_checkpoint, make_checkpoint, save_checkpoint
from stfnet.errors import UserError
from stfnet.features import prepare
from stfnet.layouts import get_layout
from stfnet.model import STFNet, STFNetConfig, stgcn_config
from train.analysis.contributions import knocked_out, knockout_accuracy, module_contributions
from train.analysis.explain import explain_video, explain_window, figures, sample_input
from train.analysis.explain_figures import contributions_figure, mcf_figure, part_labels
from train.analysis.per_class import comparison_figure
from train.data.format import load_dataset, split_annotations
from train.loop import fit

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny dataset, an STF-Net trained on it for one epoch, and an untrained ST-GCN for the same classes."""
    folder = tmp_path_factory.mktemp("explain")
    tiny_dataset(folder / "d.pkl")
    fit(tiny_train_config(folder / "d.pkl", folder / "run", epochs=1))
    stfnet = load_checkpoint(folder / "run" / "last.pt")
    baseline = STFNet(stgcn_config(layout="openpose18", num_classes=3, base_channels=4, in_channels=3)).eval()
    save_checkpoint(make_checkpoint(baseline, CLASSES, "joint", stfnet.normalize), folder / "stgcn.pt")
    return folder


def _labels(ticks) -> list[str]:
    return [t.get_text() for t in ticks]


def test_figures_show_the_models_maps_for_the_sample_labelled_from_the_layout(trained):
    ckpt = load_checkpoint(trained / "run" / "last.pt")
    data = load_dataset(trained / "d.pkl")
    annotation = next(a for a in data["annotations"] if a["frame_dir"] == "wave_1")
    expected_input = prepare(annotation["keypoint"], annotation["keypoint_score"], ckpt.layout, ckpt.normalize,
                             ckpt.stream)
    x, _ = sample_input(ckpt, data, "wave_1", "d.pkl")
    np.testing.assert_array_equal(x, expected_input)

    model = ckpt.build_model("cpu", mirror_average=False)  # explain shows the plain model
    with torch.no_grad():
        batch = torch.from_numpy(expected_input)[None]
        _, maps = model.forward_with_maps(batch)
        features = model.forward_features(batch)  # (1, M, C, T', V)
    figs = figures(explain_window(model, x), ckpt.layout, None, "wave_1")
    assert set(figs) == {"mcf_layer9", "feature_map", "tdf"}
    layout = get_layout("openpose18")

    panels = [ax for ax in figs["mcf_layer9"].axes if ax.images]  # colour bars hold no images
    assert len(panels) == len(maps.mcf[9]) == 2
    for g, ax in enumerate(panels):
        np.testing.assert_allclose(ax.images[0].get_array(), maps.mcf[9][g][0].numpy(), rtol=1e-6, atol=1e-7)
    assert _labels(panels[0].get_yticklabels()) == list(layout.joints)
    assert _labels(panels[0].get_xticklabels()) == list(layout.joints)
    assert _labels(panels[1].get_xticklabels()) == part_labels(layout, 1)
    assert "part 3: l_elbow, l_wrist" in _labels(panels[1].get_xticklabels())

    (ax,) = [a for a in figs["feature_map"].axes if a.images]
    np.testing.assert_allclose(ax.images[0].get_array(), features[0, 0].mean(dim=0).T.numpy(), rtol=1e-6, atol=1e-7)
    assert _labels(ax.get_yticklabels()) == list(layout.joints)
    assert "time" in ax.get_xlabel()

    (ax,) = figs["tdf"].axes
    layers = sorted(maps.tdf)
    assert layers == list(range(1, 10)) and len(ax.lines) == len(layers)
    assert _labels(ax.get_legend().get_texts()) == [f"layer {k}" for k in layers]
    for line, layer in zip(ax.lines, layers, strict=True):
        np.testing.assert_allclose(line.get_ydata(), maps.tdf[layer][0].mean(dim=0).numpy(), rtol=1e-6, atol=1e-7)


def test_three_grain_layouts_get_a_panel_per_grain_with_part_labels():
    layout = get_layout("ntu25")
    maps = [np.random.default_rng(g).random((25, n)) for g, n in enumerate((25, 10, 5))]
    fig = mcf_figure(maps, layout, np.array([0.2, 0.3, 0.5]))
    panels = [ax for ax in fig.axes if ax.images]
    assert [p.images[0].get_array().shape for p in panels] == [(25, 25), (25, 10), (25, 5)]
    arm = "part 1: l_shoulder, l_elbow, l_wrist, l_hand, l_hand_tip, l_thumb"
    assert _labels(panels[2].get_xticklabels())[1] == arm
    assert "weight 0.50" in panels[2].get_title()


def test_explain_a_sample_writes_the_figures(trained, tmp_path):
    out = tmp_path / "ex"
    args = ["explain", "--checkpoint", str(trained / "run" / "last.pt"), "--data", str(trained / "d.pkl"),
            "--sample", "kick_0", "--out", str(out)]
    assert main([*args, "--layer", "5"]) == 0
    for name in ("mcf_layer5.png", "feature_map.png", "tdf.png"):
        assert (out / name).read_bytes().startswith(PNG)
    summary = json.loads((out / "explain.json").read_text())
    assert summary["true_label"] == "kick" and summary["mcf_layer"] == 5 and len(summary["top5"]) == 3
    with np.load(out / "maps.npz") as arrays:
        assert arrays["mcf_layer9_grain1"].shape == (18, 6) and arrays["tdf_layer1"].shape == (4, 8)

    assert main([*args, "--layer", "2"]) == 2  # no MCF in layer 2
    assert main([*args[:-4], "--sample", "nobody", "--out", str(out)]) == 2

    baseline = tmp_path / "base"  # ST-GCN: no MCF and no TDF to draw, the feature map only
    assert main(["explain", "--checkpoint", str(trained / "stgcn.pt"), "--data", str(trained / "d.pkl"),
                 "--sample", "kick_0", "--out", str(baseline)]) == 0
    assert sorted(p.name for p in baseline.glob("*.png")) == ["feature_map.png"]


def test_explain_a_video_runs_pose_and_explains_windows_as_the_app_cuts_them(tmp_path):
    ckpt = tiny_checkpoint(tmp_path / "live.pt", num_frames=8)  # 8 frames at 30 fps: 0.267 s windows
    video = write_video(tmp_path / "clip.avi", frames=40, fps=20.0)  # 0 .. 1.95 s
    pose = FakePose()
    summary = explain_video(ckpt, video, tmp_path / "every", every=0.5, estimator=pose)
    assert pose.calls == 40
    ends = [w["window"][1] for w in summary["windows"]]
    assert ends == pytest.approx([0.267, 0.767, 1.267, 1.767], abs=1e-3)
    for window in summary["windows"]:
        folder = tmp_path / "every" / window["folder"]
        assert {"mcf_layer9.png", "feature_map.png", "tdf.png", "maps.npz"} <= {p.name for p in folder.iterdir()}

    pose = FakePose()
    with pytest.raises(UserError, match="res-layer 2 of this checkpoint has no MCF"):
        explain_video(ckpt, video, tmp_path / "wrong", layer=2, estimator=pose)
    assert pose.calls == 0  # refused before the pose pass over the whole video

    middle = explain_video(ckpt, video, tmp_path / "middle", estimator=FakePose())
    (window,) = middle["windows"]
    assert window["window"][1] == pytest.approx((1.95 + 0.267) / 2, abs=1e-3)
    assert json.loads((tmp_path / "middle" / "explain.json").read_text())["windows"][0]["top5"]


def test_compare_draws_per_class_accuracy_of_two_checkpoints(trained, tmp_path):
    out = tmp_path / "cmp"
    a, b = trained / "stgcn.pt", trained / "run" / "last.pt"
    assert main(["explain", "--compare", str(a), str(b), "--data", str(trained / "d.pkl"), "--split", "val",
                 "--out", str(out)]) == 0
    assert (out / "per_class_accuracy.png").read_bytes().startswith(PNG)
    result = json.loads((out / "per_class_accuracy.json").read_text())
    assert result["classes"] == CLASSES and result["a"]["name"].startswith("ST-GCN")

    data = load_dataset(trained / "d.pkl")
    for key, path in (("a", a), ("b", b)):  # per-class accuracy computed here, sample by sample
        ckpt = load_checkpoint(path)
        model = ckpt.build_model("cpu", mirror_average=False)  # explain shows the plain model
        hits = {c: [] for c in CLASSES}
        for ann in split_annotations(data, "val"):
            x = prepare(ann["keypoint"], ann["keypoint_score"], ckpt.layout, ckpt.normalize, ckpt.stream)
            with torch.no_grad():
                predicted = int(model(torch.from_numpy(x)[None]).argmax())
            hits[CLASSES[ann["label"]]].append(predicted == ann["label"])
        assert result[key]["per_class_accuracy"] == pytest.approx({c: np.mean(h) for c, h in hits.items()})

    fig = comparison_figure(result)
    (ax,) = fig.axes
    assert _labels(ax.get_xticklabels()) == CLASSES
    bars_a, bars_b = ax.containers
    assert [p.get_height() for p in bars_a] == pytest.approx([100 * result["a"]["per_class_accuracy"][c]
                                                              for c in CLASSES])
    assert [p.get_height() for p in bars_b] == pytest.approx([100 * result["b"]["per_class_accuracy"][c]
                                                              for c in CLASSES])


def test_explain_needs_one_input(trained, tmp_path):
    ckpt = str(trained / "run" / "last.pt")
    assert main(["explain", "--checkpoint", ckpt, "--out", str(tmp_path)]) == 2
    assert main(["explain", "--checkpoint", ckpt, "--video", "v.mp4", "--data", "d.pkl", "--out", str(tmp_path)]) == 2
    assert main(["explain", "--compare", ckpt, ckpt, "--data", str(trained / "d.pkl"), "--out", str(tmp_path)]) == 2


def _focus_inputs(model: STFNet, x: torch.Tensor) -> tuple[dict, dict]:
    """Res-layer -> the input of its MCF, and -> its TDF weights, by running the blocks by hand."""
    n, c, t, v, m = x.shape
    y = model.data_bn(x.permute(0, 4, 3, 1, 2).reshape(n * m, v * c, t)).view(n * m, v, c, t).permute(0, 2, 3, 1)
    mcf_inputs, tdf_weights = {}, {}
    for layer, block in enumerate(model.blocks):
        s = block.scn(y)
        if block.mcf is not None:
            mcf_inputs[layer] = s
            s = block.mcf(s)[0]
        if block.tdf is not None:
            s, tdf_weights[layer] = block.tdf(s)
        s = block.tcn(s)
        y = torch.relu(s if block.residual is None else s + block.residual(y))
    return mcf_inputs, tdf_weights


@torch.no_grad()
def test_contributions_are_zero_for_fresh_modules_and_match_the_blocks_run_by_hand():
    torch.manual_seed(0)
    model = STFNet(STFNetConfig(layout="openpose18", num_classes=3, base_channels=4, in_channels=3)).eval()
    x = torch.randn(2, 3, 16, 18, 2)
    fresh = module_contributions(model, [x])
    assert set(fresh["mask_change"]) == set(range(1, 10)) and set(fresh["mcf_branch"]) == set(range(4, 10))
    assert max(fresh["mask_change"].values()) == 0 and max(fresh["mcf_branch"].values()) == 0  # identity at init

    for block in model.blocks:  # move every module away from its initial state
        block.scn.mask.add_(0.1 * torch.randn_like(block.scn.mask))
        if block.mcf is not None:
            block.mcf.bn.weight.fill_(0.5)
    found = module_contributions(model, [x[:1], x[1:]])
    mcf_inputs, tdf_weights = _focus_inputs(model, x)
    for layer, s in mcf_inputs.items():
        rows = (model.blocks[layer].mcf(s)[0] - s).flatten(1).norm(dim=1) / s.flatten(1).norm(dim=1)
        assert found["mcf_branch"][layer] == pytest.approx(rows.mean().item(), rel=1e-5)
        assert found["mcf_branch"][layer] > 0
    _, maps = model.forward_with_maps(x)
    for layer, w in tdf_weights.items():
        torch.testing.assert_close(w, maps.tdf[layer])
        assert found["tdf_spread"][layer] == pytest.approx((w.std(-1) / w.mean(-1)).mean().item(), rel=1e-5)
    for layer, block in enumerate(model.blocks[1:], start=1):
        change = (block.scn.mask - block.scn.graph).norm() / block.scn.graph.norm()
        assert found["mask_change"][layer] == pytest.approx(change.item(), rel=1e-5)


def test_explain_a_split_writes_how_much_each_module_acts(trained, tmp_path, capsys):
    data = str(trained / "d.pkl")
    out = tmp_path / "contrib"
    assert main(["explain", "--checkpoint", str(trained / "run" / "last.pt"), "--data", data, "--split", "val",
                 "--out", str(out)]) == 0
    assert (out / "contributions.png").read_bytes().startswith(PNG)
    summary = json.loads((out / "contributions.json").read_text())
    assert summary["split"] == "val" and summary["samples"] == len(split_annotations(load_dataset(data), "val"))
    assert sorted(map(int, summary["tdf_spread"])) == list(range(1, 10))
    assert sorted(map(int, summary["mcf_branch"])) == list(range(4, 10))
    assert all(v > 0 for v in summary["mcf_branch"].values())  # one epoch moves MCF off its zero start
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["layer", "mask", "change", "MCF", "branch", "TDF", "spread"] and len(table) == 11
    assert table[-1].startswith("top-1 ") and "MCF knocked out" in table[-1]
    assert set(summary["top1_knocked_out"]) == {"none", "mask", "mcf", "tdf"}
    assert table[1].split()[2] == "-"  # layer 1 has no MCF

    baseline = tmp_path / "base"  # ST-GCN has none of the modules: three empty panels that say so
    assert main(["explain", "--checkpoint", str(trained / "stgcn.pt"), "--data", data, "--split", "val",
                 "--out", str(baseline)]) == 0
    summary = json.loads((baseline / "contributions.json").read_text())
    assert summary["mask_change"] == summary["mcf_branch"] == summary["tdf_spread"] == {}
    assert set(summary["top1_knocked_out"]) == {"none"}
    fig = contributions_figure({}, "")
    assert [t.get_text() for ax in fig.axes for t in ax.texts] == ["not in this model"] * 3

    assert main(["explain", "--checkpoint", str(trained / "run" / "last.pt"), "--data", data, "--split", "val",
                 "--sample", "kick_0", "--out", str(tmp_path / "both")]) == 2
    assert main(["explain", "--checkpoint", str(trained / "run" / "last.pt"), "--data", data, "--split", "nope",
                 "--out", str(tmp_path / "nosplit")]) == 2
    assert not (tmp_path / "nosplit").exists()


@torch.no_grad()
def test_knocked_out_modules_do_without_what_they_learned_and_come_back_after():
    torch.manual_seed(0)
    model = STFNet(STFNetConfig(layout="openpose18", num_classes=3, base_channels=4, in_channels=3)).eval()
    for block in model.blocks:  # a "trained" model: every module away from its initial state
        block.scn.mask.add_(0.1 * torch.randn_like(block.scn.mask))
        if block.mcf is not None:
            block.mcf.bn.weight.fill_(0.5)
        if block.tdf is not None:  # TDF's one inner channel (tiny model) positive, so its weights vary over time
            block.tdf.squeeze[1].bias.fill_(1.0)
    x = torch.randn(2, 3, 16, 18, 1)
    full = model(x)

    reference = copy.deepcopy(model)  # each knock-out built independently, on a copy
    for block in reference.blocks:
        block.scn.mask.copy_(block.scn.graph)
    with knocked_out(model, "mask"):
        torch.testing.assert_close(model(x), reference(x))

    reference = copy.deepcopy(model)
    for block in reference.blocks:
        if block.mcf is not None:
            block.mcf.bn.weight.zero_()
            block.mcf.bn.bias.zero_()
    with knocked_out(model, "mcf"):
        torch.testing.assert_close(model(x), reference(x))

    seen = []
    with knocked_out(model, "tdf"):
        handles = [b.tdf.register_forward_hook(lambda _m, i, o: seen.append((i[0], *o))) for b in model.blocks
                   if b.tdf is not None]  # registered after the knock-out's hooks: they see its output
        assert not torch.allclose(model(x), full)
        for handle in handles:
            handle.remove()
    assert len(seen) == 9
    for features, out, weights in seen:  # every frame scaled by its channel's mean weight over time
        assert weights.std(dim=-1).max() > 1e-4  # the weights themselves do vary over time
        torch.testing.assert_close(out, features * weights.mean(dim=-1)[..., None, None])

    torch.testing.assert_close(model(x), full)  # everything back as it was
    labels = full.argmax(dim=1)
    windows = _Windows(x, labels)
    accuracy = knockout_accuracy(model, windows, full, labels)
    assert accuracy["none"] == 1.0 and set(accuracy) == {"none", "mask", "mcf", "tdf"}
    with knocked_out(model, "mcf"):
        expected = (model(x).argmax(dim=1) == labels).float().mean().item()
    assert accuracy["mcf"] == pytest.approx(expected)
    baseline = STFNet(stgcn_config(layout="openpose18", num_classes=3, base_channels=4, in_channels=3))
    assert set(knockout_accuracy(baseline, windows, full, labels)) == {"none"}


class _Windows(torch.utils.data.Dataset):
    """Model inputs as a one-window-per-clip dataset, like SkeletonDataset's evaluation form."""

    def __init__(self, x: torch.Tensor, labels: torch.Tensor) -> None:
        self.x, self.labels = x, labels.numpy()

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.x[i], int(self.labels[i])

    def clip_scores(self, scores: torch.Tensor) -> torch.Tensor:
        return scores
