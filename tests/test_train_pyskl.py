"""pyskl / mmaction2 files: whole datasets load as they are; single-sample pickles are wrapped by a converter."""

from __future__ import annotations

import pickle
import shutil

import numpy as np
import pytest
from conftest import shared_path

from main import main
from stfnet.features import NormalizeConfig
from stfnet.layouts import get_layout
from train.data.dataset import SkeletonDataset
from train.data.format import DatasetError, load_dataset, make_annotation, split_annotations


def test_the_paddlevideo_sample_is_one_annotation_and_the_loader_says_so():
    path = shared_path("data", "formats", "ucf101_example_skeleton.pkl")
    with open(path, "rb") as f:
        raw = pickle.load(f)
    assert isinstance(raw, dict) and "annotations" not in raw and raw["keypoint"].shape == (2, 163, 17, 2)
    with pytest.raises(DatasetError, match="single pyskl annotation.*convert pyskl-sample"):
        load_dataset(path)


def test_pyskl_sample_converter_makes_a_usable_coco17_dataset(tmp_path):
    folder = tmp_path / "samples"
    folder.mkdir()
    real = shared_path("data", "formats", "ucf101_example_skeleton.pkl")
    shutil.copy(real, folder / "real.pkl")
    with open(real, "rb") as f:
        other = pickle.load(f)
    other = {**other, "frame_dir": "second", "label": 1, "keypoint": other["keypoint"][:, :40]}
    other["keypoint_score"] = other["keypoint_score"][:, :40]
    with open(folder / "second.pkl", "wb") as f:
        pickle.dump(other, f)
    out = tmp_path / "ucf.pkl"
    assert main(["convert", "pyskl-sample", str(folder), str(out), "--val-fraction", "0.5"]) == 0
    data = load_dataset(out)
    assert data["layout"] == "coco17" and data["split"]["all"] == ["v_ApplyEyeMakeup_g01_c01", "second"]
    ann = split_annotations(data, "all")[0]
    assert ann["keypoint"].dtype == np.float32 and ann["img_shape"] == (256, 340)  # float16 in the sample
    cfg = NormalizeConfig(num_frames=16, num_persons=2, coords=2, use_score=True)
    x, label = SkeletonDataset(split_annotations(data, "all"), get_layout("coco17"), cfg, "joint")[0]
    assert tuple(x.shape) == (3, 16, 17, 2) and label == 0 and x.isfinite().all()


def test_mmaction2_list_files_load_as_split_all(tmp_path):
    anns = [make_annotation(f"s{i}", i, np.ones((1, 4, 17, 2))) for i in range(3)]
    path = tmp_path / "list.pkl"
    with open(path, "wb") as f:
        pickle.dump(anns, f)
    assert load_dataset(path)["split"] == {"all": ["s0", "s1", "s2"]}


def test_pyskl_sample_converter_errors(tmp_path, capsys):
    folder = tmp_path / "samples"
    folder.mkdir()
    (folder / "broken.pkl").write_bytes(b"\x80\x04truncated")
    with open(folder / "dataset.pkl", "wb") as f:
        pickle.dump({"split": {}, "annotations": []}, f)
    with open(folder / "flat.pkl", "wb") as f:
        pickle.dump({"keypoint": np.zeros((4, 17, 2)), "label": 0}, f)
    out = tmp_path / "o.pkl"
    assert main(["convert", "pyskl-sample", str(folder), str(out)]) == 2  # nothing left to write
    err = capsys.readouterr().err
    assert "skipped: broken.pkl is not a readable pickle" in err
    assert "skipped: dataset.pkl is already a whole dataset" in err
    assert "skipped: flat.pkl: 'keypoint' has shape (4, 17, 2)" in err
    assert "nothing was converted" in err and not out.exists()
