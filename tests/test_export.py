import json

import numpy as np
import pytest
import torch

from main import main
from stfnet import STFNet, STFNetConfig
from stfnet.checkpoint import load_checkpoint, make_checkpoint, save_checkpoint
from stfnet.features import NormalizeConfig
from stfnet.shipped import resolve_model, shipped_models
from train.export import export, run_exported


@pytest.fixture(params=[("bone", {"mirror_average": False}), ("bone", {"mirror_average": True}),
                        ("joint", {"mirror_average": True, "arms_free_margin": 0.0})],
                ids=["plain", "mirror-averaged", "arms-free"])
def checkpoint(tmp_path, request):
    model = STFNet(STFNetConfig(num_classes=4, base_channels=8)).eval()
    path = tmp_path / "m.pt"
    stream, extra = request.param
    save_checkpoint(make_checkpoint(model, list("abcd"), stream, NormalizeConfig(num_frames=16, coords=2,
                                                                                use_score=True), extra), path)
    return path


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_export_matches_pytorch_on_a_new_input(checkpoint, tmp_path, fmt):
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
    ckpt = load_checkpoint(checkpoint)
    out = tmp_path / f"m.{fmt}"
    diff = export(ckpt, fmt, out)
    assert diff is not None and diff < 1e-4
    x = torch.randn(3, 3, 16, 18, 1)  # another batch size than the export was traced with
    with torch.no_grad():
        expected = ckpt.build_model()(x).numpy()
    np.testing.assert_allclose(run_exported(out, fmt, x), expected, atol=1e-4)
    meta = json.loads((tmp_path / f"m.{fmt}.json").read_text())
    assert meta["labels"] == list("abcd") and meta["stream"] == ckpt.stream and meta["layout"]["name"] == "openpose18"
    assert meta["mirror_average"] is ckpt.mirror_average and meta["arms_free_margin"] == ckpt.arms_free_margin


def test_export_command_and_bad_checkpoint(checkpoint, tmp_path, capsys):
    assert main(["export", "--checkpoint", str(checkpoint), "--format", "torchscript"]) == 0
    assert checkpoint.with_suffix(".ts").is_file()
    assert "largest difference to PyTorch" in capsys.readouterr().out
    assert main(["export", "--checkpoint", str(tmp_path / "none.pt"), "--format", "onnx"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "none.onnx").exists()


@pytest.mark.slow
@pytest.mark.parametrize("name", [m.name for m in shipped_models()])
def test_every_shipped_model_exports_to_onnx_with_its_check(tmp_path, name):
    pytest.importorskip("onnxruntime")
    ckpt = load_checkpoint(resolve_model(name))
    diff = export(ckpt, "onnx", tmp_path / f"{name}.onnx")
    assert diff is not None and diff < 1e-4
    assert json.loads((tmp_path / f"{name}.onnx.json").read_text())["labels"] == ckpt.labels
