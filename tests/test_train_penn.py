"""Penn Action converter on real annotation files: both layouts, the files' own split, sides, bad files."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from conftest import shared_path
from scipy.io import loadmat, savemat

from main import main
from train.data.format import load_dataset

REAL = ["0001", "0004"]  # a test clip seen from the back, a training clip seen from the front (baseball pitches)
FRONT = "1037"  # jumping jacks, facing the camera


@pytest.fixture
def penn_folder(tmp_path):
    folder = tmp_path / "labels"
    folder.mkdir()
    for name in REAL:
        shutil.copy(shared_path("data", "penn-action", f"{name}.mat"), folder)
    return folder


@pytest.mark.parametrize("form, joints", [("openpose18", 18), ("penn13", 13)])
def test_converts_real_files_in_both_layouts_with_their_own_split(penn_folder, tmp_path, form, joints):
    out = tmp_path / f"penn_{form}.npz"
    assert main(["convert", "penn-action", str(penn_folder), str(out), "--form", form]) == 0
    data = load_dataset(out)
    assert data["layout"] == form and len(data["classes"]) == 15 and data["fps"] == 30.0
    assert data["split"] == {"train": ["0004"], "test": ["0001"]}
    clips = {a["frame_dir"]: a for a in data["annotations"]}
    assert clips["0001"]["keypoint"].shape == (1, 151, joints, 2) and clips["0004"]["keypoint"].shape[1] == 82
    assert clips["0001"]["label"] == data["classes"].index("baseball_pitch") and clips["0001"]["view"] == "back"
    assert tuple(clips["0001"]["img_shape"]) == (360, 480)
    raw = loadmat(str(penn_folder / "0001.mat"))
    visible = raw["visibility"][0] > 0
    names = ("head", "l_shoulder") if form == "penn13" else ("nose", "l_shoulder")
    layout_joints = {"penn13": ["head", "l_shoulder", "r_shoulder"],
                     "openpose18": ["nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder"]}[form]
    first = clips["0001"]["keypoint"][0, 0]
    # The head is the head; Penn's first shoulder column (index 1) is the person's right, so it lands on r_shoulder.
    assert first[layout_joints.index(names[0])].tolist() == [raw["x"][0, 0], raw["y"][0, 0]]
    assert first[layout_joints.index("r_shoulder")].tolist() == [raw["x"][0, 1], raw["y"][0, 1]]
    assert clips["0001"]["keypoint_score"][0, 0, layout_joints.index("r_shoulder")] == float(visible[1])


def test_front_views_put_the_persons_left_on_the_images_right(penn_folder, tmp_path):
    shutil.copy(shared_path("data", "penn-action", f"{FRONT}.mat"), penn_folder)
    out = tmp_path / "penn.npz"
    assert main(["convert", "penn-action", str(penn_folder), str(out), "--form", "penn13"]) == 0
    front = next(a for a in load_dataset(out)["annotations"] if a["frame_dir"] == FRONT)
    x = front["keypoint"][0, :, :, 0]  # (T, 13)
    assert np.mean(x[:, 1] > x[:, 2]) > 0.8  # l_shoulder right of r_shoulder, as MediaPipe sees a person facing it


def test_bad_files_are_skipped_by_name(penn_folder, tmp_path, capsys):
    savemat(penn_folder / "0009.mat", {"x": np.zeros((3, 5))})  # not Penn's fields
    (penn_folder / "0010.mat").write_bytes(b"MATLAB 5.0 MAT-file, truncated")
    out = tmp_path / "penn.npz"
    assert main(["convert", "penn-action", str(penn_folder), str(out)]) == 0
    err = capsys.readouterr().err
    assert "0009.mat" in err and "0010.mat" in err and "2 of 4 files skipped" in err
    assert len(load_dataset(out)["annotations"]) == 2
    assert main(["convert", "penn-action", str(tmp_path / "nowhere"), str(tmp_path / "x.npz")]) == 2
    assert "no Penn Action files" in capsys.readouterr().err
