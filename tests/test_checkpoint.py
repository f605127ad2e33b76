import dataclasses
import json
import pickle
import zipfile

import pytest
import torch
from hostile import Payload

from main import main
from stfnet import STFNet, STFNetConfig
from stfnet.checkpoint import load_checkpoint, load_weights, make_checkpoint, save_checkpoint
from stfnet.errors import CheckpointError
from stfnet.features import NormalizeConfig

TINY = {"base_channels": 8}


def test_round_trip_keeps_weights_outputs_and_metadata(tmp_path):
    model = STFNet(STFNetConfig(num_classes=3, **TINY)).eval()
    norm = NormalizeConfig(num_frames=32, coords=2, use_score=True)
    ckpt = make_checkpoint(model, ["wave", "clap", "jump"], "bone", norm, extra={"epoch": 7})
    save_checkpoint(ckpt, tmp_path / "m.pt")
    loaded = load_checkpoint(tmp_path / "m.pt")
    assert loaded.labels == ["wave", "clap", "jump"] and loaded.stream == "bone"
    assert loaded.normalize == norm and loaded.extra == {"epoch": 7}
    assert dataclasses.replace(loaded.model_config, layout="openpose18") == model.cfg
    x = torch.randn(2, 3, 16, 18, 1)
    with torch.no_grad():
        torch.testing.assert_close(loaded.build_model()(x), model(x))
    assert not list(tmp_path.glob("*.tmp"))


def test_custom_layout_travels_inside_the_checkpoint(tmp_path):
    layout = {"name": "tri", "joints": ["a", "b", "c"], "edges": [[1, 0], [2, 1]], "center": 0,
              "parts": [[[0], [1, 2]]]}
    path = tmp_path / "tri.json"
    path.write_text(json.dumps(layout))
    model = STFNet(STFNetConfig(layout=str(path), num_classes=2, **TINY))
    save_checkpoint(make_checkpoint(model, ["a", "b"], "joint", NormalizeConfig()), tmp_path / "m.pt")
    path.unlink()  # the checkpoint alone is enough
    loaded = load_checkpoint(tmp_path / "m.pt")
    assert loaded.layout.joints == ("a", "b", "c") and loaded.layout.parents == (0, 0, 1)
    assert loaded.build_model()(torch.randn(1, 3, 8, 3, 1)).shape == (1, 2)


def test_loading_into_another_layout_or_class_count_says_so(tmp_path):
    ckpt = make_checkpoint(STFNet(STFNetConfig(num_classes=3, **TINY)), ["a", "b", "c"], "joint", NormalizeConfig())
    with pytest.raises(CheckpointError, match="layout 'openpose18' .* model uses layout 'ntu25'"):
        load_weights(STFNet(STFNetConfig(layout="ntu25", num_classes=3, **TINY)), ckpt)
    with pytest.raises(CheckpointError, match="checkpoint has 3 classes but the model has 4"):
        load_weights(STFNet(STFNetConfig(num_classes=4, **TINY)), ckpt)
    with pytest.raises(CheckpointError, match="do not fit"):
        load_weights(STFNet(STFNetConfig(num_classes=3, base_channels=16)), ckpt)


def test_unreadable_files_are_named(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")
    with pytest.raises(CheckpointError, match="is a folder, not a checkpoint file"):
        load_checkpoint(tmp_path)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pt is not a readable checkpoint"):
        load_checkpoint(junk)
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not an STF-Net checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_a_checkpoint_that_would_run_code_says_what_it_asked_for_and_runs_nothing(tmp_path, recwarn):
    marker = tmp_path / "ran"
    torch.save({"format": "x", "weights": Payload(marker)}, tmp_path / "evil.pt")
    refused = r"evil.pt is not a safe checkpoint: it asks to load '(io|builtins)\.open', which a checkpoint never"
    with pytest.raises(CheckpointError, match=refused):
        load_checkpoint(tmp_path / "evil.pt")
    assert not marker.exists()
    with zipfile.ZipFile(tmp_path / "protocol4.pt", "w") as archive:  # a pickle protocol torch does not write
        archive.writestr("archive/data.pkl", pickle.dumps({"weights": Payload(marker)}, protocol=4))
        archive.writestr("archive/version", "3\n")
    with pytest.raises(CheckpointError, match="protocol4.pt is not a readable checkpoint"):
        load_checkpoint(tmp_path / "protocol4.pt")
    assert not marker.exists()
    assert not recwarn.list  # torch's warning about the pickle protocol does not reach the user


def _payload_with(tmp_path, **changes):
    """A saved checkpoint whose stored fields are changed, as a damaged or foreign file would hold them."""
    ckpt = make_checkpoint(STFNet(STFNetConfig(num_classes=2, **TINY)), ["a", "b"], "joint", NormalizeConfig())
    save_checkpoint(ckpt, tmp_path / "m.pt")
    payload = torch.load(tmp_path / "m.pt", weights_only=True)
    payload.update(changes)
    torch.save(payload, tmp_path / "m.pt")
    return tmp_path / "m.pt"


@pytest.mark.parametrize("changes, message", [
    ({"stream": "velocity"}, "stream 'velocity', which this version does not know"),
    ({"labels": ["a", "b", "c"]}, "names 3 classes for a model with 2"),
    ({"labels": [1, 2]}, "names 2 classes for a model with 2: it is damaged"),
    ({"extra": {"arms_free_margin": "abc"}}, "has arms_free_margin 'abc', expected a number from 0.0 to 1.0"),
    ({"extra": {"temperature": 0.0}}, "has temperature '0.0', expected a number"),
    ({"extra": {"min_confidence": float("nan")}}, "has min_confidence 'nan'"),
])
def test_a_checkpoint_with_an_unknown_stream_or_labels_is_one_sentence(tmp_path, capsys, changes, message):
    path = _payload_with(tmp_path, **changes)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)
    assert main(["export", "--model", str(path), "--format", "torchscript", "--out", str(tmp_path / "m.ts")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and not (tmp_path / "m.ts").exists()
