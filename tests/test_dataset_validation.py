"""The one dataset validator: each malformed dataset gives one sentence and exit 2; NaN joints become missing."""

from __future__ import annotations

import numpy as np
import pytest
from train_helpers import tiny_dataset

from main import main
from stfnet.errors import DatasetError
from train.data.format import load_dataset, save_dataset
from train.data.validate import validate_dataset


def _first(data):
    return data["annotations"][0]


MALFORMED = {
    "text keypoints": (lambda d: _first(d).update(keypoint=np.full((1, 3, 18, 2), "x")), "holds <U1 values"),
    "3-D keypoints": (lambda d: _first(d).update(keypoint=np.zeros((3, 18, 2), np.float32)), "expected (persons"),
    "no frames": (lambda d: _first(d).update(keypoint=np.zeros((1, 0, 18, 2), np.float32),
                                             keypoint_score=np.zeros((1, 0, 18), np.float32)), "no persons, frames"),
    "score shape": (lambda d: _first(d).update(keypoint_score=np.ones((1, 5, 18), np.float32)),
                    "'keypoint_score' has shape (1, 5, 18), expected (1, 12, 18)"),
    "label beyond the classes": (lambda d: _first(d).update(label=3), "label 3 is outside the class list (0 to 2)"),
    "negative label": (lambda d: _first(d).update(label=-1), "label -1 is outside"),
    "fractional label": (lambda d: _first(d).update(label=1.5), "label 1.5 is not an integer"),
    "duplicate sample": (lambda d: d["annotations"][1].update(frame_dir="wave_0"), "'wave_0' appears twice"),
    "other joint count": (lambda d: d["annotations"][-1].update(keypoint=np.zeros((1, 12, 17, 2), np.float32),
                                                    keypoint_score=np.ones((1, 12, 17), np.float32)),
                          "has 17 joints with 2 coordinates but the first"),
    "absurd frame rate": (lambda d: d.update(fps=1e9), "'fps' is 1000000000.0"),
    "classes not text": (lambda d: d.update(classes=[1, 2, 3]), "'classes' must be a list of class names"),
    "layout of another joint count": (lambda d: d.update(layout="coco17"),
                                      "has 18 joints per skeleton but layout 'coco17' has 17"),
    "annotation not a dict": (lambda d: d["annotations"].append("x"), "annotation 18 is not a dict"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_dataset_gives_one_sentence_and_exit_2(case, tmp_path, capsys):
    data = tiny_dataset(tmp_path / "good.pkl")
    spoil, message = MALFORMED[case]
    spoil(data)
    save_dataset(data, tmp_path / "bad.pkl")
    out = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "bad.pkl"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert str(tmp_path / "bad.pkl") in err and not out.exists()


def test_nan_and_infinite_joints_are_treated_as_missing_and_counted(tmp_path, capsys):
    data = tiny_dataset(tmp_path / "d.pkl")
    kp = _first(data)["keypoint"].copy()
    kp[0, 2, 5] = [np.nan, 1.0]
    kp[0, 4, 7, 1] = np.inf
    _first(data)["keypoint"] = kp
    data["annotations"][1]["keypoint_score"] = data["annotations"][1]["keypoint_score"].copy()
    data["annotations"][1]["keypoint_score"][0, 0, 0] = np.nan
    save_dataset(data, tmp_path / "nan.npz")
    back = load_dataset(tmp_path / "nan.npz")
    assert "3 joints with NaN or infinite values are treated as missing" in capsys.readouterr().err
    first, second = back["annotations"][:2]
    assert np.isfinite(first["keypoint"]).all() and (first["keypoint"][0, 2, 5] == 0).all()
    assert first["keypoint_score"][0, 2, 5] == 0 and first["keypoint_score"][0, 4, 7] == 0
    assert second["keypoint_score"][0, 0, 0] == 0 and first["keypoint_score"].sum() == kp[..., 0].size - 2


def test_validation_is_linear_in_the_number_of_samples():
    # 20,000 samples pass in one pass; a quadratic check would take minutes (no clock: just that it finishes)
    kp, sc = np.zeros((1, 2, 18, 2), np.float32), np.ones((1, 2, 18), np.float32)
    data = {"annotations": [{"frame_dir": str(i), "label": i % 3, "keypoint": kp, "keypoint_score": sc}
                            for i in range(20_000)], "classes": ["a", "b", "c"], "split": {}}
    assert validate_dataset(data, "big") is data


def test_a_dataset_without_annotations_field_names_the_format(tmp_path):
    save_dataset({"samples": []}, tmp_path / "d.pkl")
    with pytest.raises(DatasetError, match="not in the pyskl annotation format"):
        load_dataset(tmp_path / "d.pkl")
