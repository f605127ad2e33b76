"""Which checkpoint the Teach panel fine-tunes new actions from."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from realtime_fakes import tiny_checkpoint

from stfnet.checkpoint import load_checkpoint
from stfnet.shipped import ASSETS, DEFAULT_MODEL, TEACH_BACKBONE, resolve_model, teach_backbone


@pytest.fixture
def assets(tmp_path):
    folder = tmp_path / "assets"
    folder.mkdir()
    tiny_checkpoint(folder / f"{TEACH_BACKBONE}.pt")
    return folder


def test_a_shipped_model_of_the_same_skeletons_teaches_from_the_backbone(assets):
    in_use = tiny_checkpoint(assets / "webcam.pt")
    assert teach_backbone(in_use, assets) == (assets / f"{TEACH_BACKBONE}.pt").resolve()


@pytest.mark.parametrize("layout, coords", [("ntu25", 3), ("openpose18", 3)], ids=["other layout", "3D"])
def test_a_shipped_model_of_other_skeletons_teaches_from_itself(assets, layout, coords):
    in_use = tiny_checkpoint(assets / "kinect.pt", layout, coords=coords)
    assert teach_backbone(in_use, assets) == in_use


def test_your_own_models_and_opened_checkpoints_teach_from_themselves(assets, tmp_path):
    folder = tmp_path / "models" / "my-moves"
    folder.mkdir(parents=True)
    mine = tiny_checkpoint(folder / "model.pt")
    assert teach_backbone(mine, assets) == mine


def test_without_the_backbone_or_with_a_broken_one_the_model_in_use_teaches(assets):
    in_use = tiny_checkpoint(assets / "webcam.pt")
    (assets / f"{TEACH_BACKBONE}.pt").write_bytes(b"not a checkpoint")
    assert teach_backbone(in_use, assets) == in_use
    (assets / f"{TEACH_BACKBONE}.pt").unlink()
    assert teach_backbone(in_use, assets) == in_use


def test_the_shipped_default_teaches_from_the_shipped_backbone(tmp_path):
    backbone = teach_backbone(resolve_model(None))
    assert backbone == (ASSETS / f"{TEACH_BACKBONE}.pt").resolve()
    small, default = load_checkpoint(backbone), load_checkpoint(ASSETS / f"{DEFAULT_MODEL}.pt")
    assert small.layout == default.layout and small.normalize == default.normalize
    assert small.model_config.base_channels == default.model_config.base_channels // 2
    copy = shutil.copy(resolve_model(None), tmp_path / "exercise.pt")  # the same file elsewhere: not shipped
    assert teach_backbone(Path(copy)) == Path(copy)
