"""UTD-MHAD converter on a handful of the real files, and its error paths."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from conftest import shared_path

from main import main
from train.data.format import load_dataset

REAL = ["a1_s1_t1", "a1_s2_t1", "a5_s3_t2", "a5_s4_t2", "a27_s7_t4", "a27_s8_t4"]


@pytest.fixture
def utd_folder(tmp_path):
    folder = tmp_path / "utd"
    folder.mkdir()
    for name in REAL:
        shutil.copy(shared_path("data", "utd-mhad", f"{name}_skeleton.mat"), folder)
    shutil.copy(shared_path("data", "utd-mhad", "Action_List.txt"), folder)
    return folder


@pytest.mark.parametrize("form, shape", [("ntu25", (25, 3)), ("kinect20", (20, 3)), ("openpose18", (18, 2))])
def test_converts_real_files_with_the_cross_subject_split(utd_folder, tmp_path, form, shape):
    out = tmp_path / f"utd_{form}.pkl"
    assert main(["convert", "utd-mhad", str(utd_folder), str(out), "--form", form]) == 0
    data = load_dataset(out)
    assert data["layout"] == form and len(data["classes"]) == 27 and data["classes"][0] == "swipe_left"
    assert data["split"] == {"xsub_train": ["a1_s1_t1", "a5_s3_t2", "a27_s7_t4"],
                             "xsub_test": ["a1_s2_t1", "a5_s4_t2", "a27_s8_t4"]}
    for ann in data["annotations"]:
        assert ann["keypoint"].shape[0] == 1 and ann["keypoint"].shape[2:] == shape
        assert ann["keypoint"].shape[1] == ann["total_frames"] > 20
        assert np.isfinite(ann["keypoint"]).all()
    assert [a["label"] for a in data["annotations"]] == [0, 0, 4, 4, 26, 26]


def _bad_files(folder):
    from scipy.io import savemat

    savemat(folder / "a2_s1_t1_skeleton.mat", {"skeleton": np.zeros((20, 3, 5))})  # no d_skel
    (folder / "a3_s1_t1_skeleton.mat").write_bytes(b"MATLAB 5.0 MAT-file, truncated")


def test_mat_without_d_skel_and_truncated_mat_are_skipped(utd_folder, tmp_path, capsys):
    _bad_files(utd_folder)
    out = tmp_path / "utd.pkl"
    assert main(["convert", "utd-mhad", str(utd_folder), str(out)]) == 0
    err = capsys.readouterr().err
    assert "skipped: a2_s1_t1_skeleton.mat has no 'd_skel' array" in err
    assert "skipped: a3_s1_t1_skeleton.mat is not a readable MATLAB file" in err
    assert "2 of 8 files skipped" in err
    assert len(load_dataset(out)["annotations"]) == 6


def test_stop_names_the_file_and_writes_nothing(utd_folder, tmp_path, capsys):
    _bad_files(utd_folder)
    out = tmp_path / "out" / "utd.pkl"
    out.parent.mkdir()
    assert main(["convert", "utd-mhad", str(utd_folder), str(out), "--on-error", "stop"]) == 2
    assert "a2_s1_t1_skeleton.mat has no 'd_skel' array" in capsys.readouterr().err
    assert not list(out.parent.iterdir())


def test_empty_folder_is_a_clear_error(tmp_path, capsys):
    assert main(["convert", "utd-mhad", str(tmp_path), str(tmp_path / "o.pkl")]) == 2
    assert "no UTD-MHAD files" in capsys.readouterr().err


def test_a_small_data_protocol_trains_on_fewer_subjects_and_tests_on_the_same_ones(utd_folder, tmp_path, capsys):
    out = tmp_path / "small.pkl"
    assert main(["convert", "utd-mhad", str(utd_folder), str(out), "--train-subjects", "1", "3"]) == 0
    assert load_dataset(out)["split"] == {"xsub_train": ["a1_s1_t1", "a5_s3_t2"],
                                          "xsub_test": ["a1_s2_t1", "a5_s4_t2", "a27_s8_t4"]}
    assert main(["convert", "utd-mhad", str(utd_folder), str(tmp_path / "bad.pkl"), "--train-subjects", "2"]) == 2
    assert "--train-subjects must be among" in capsys.readouterr().err
