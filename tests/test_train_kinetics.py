"""Kinetics-skeleton converter on the real ST-GCN sample clip and on small clips written in its format."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_path

from main import main
from train.data import kinetics
from train.data.format import SampleError, load_dataset

REAL = "--33Lscn6sk"


def _person(value: float, score: float) -> dict:
    return {"pose": [value] * 36, "score": [score] * 18}


def _root(tmp_path: Path, splits: tuple[str, ...] = ("train", "val")) -> Path:
    root = tmp_path / "kinetics"
    for split in splits:
        (root / f"kinetics_{split}").mkdir(parents=True)
    return root


def _write_labels(root: Path, split: str, labels: dict[str, tuple[str, int, bool]]) -> None:
    content = {vid: {"has_skeleton": has, "label": name, "label_index": index}
               for vid, (name, index, has) in labels.items()}
    (root / f"kinetics_{split}_label.json").write_text(json.dumps(content))


def test_real_clip_and_a_small_clip(tmp_path):
    root = _root(tmp_path)
    real = shared_path("data", "formats", f"{REAL}.json")
    shutil.copy(real, root / "kinetics_train" / real.name)
    three = {"data": [{"frame_index": 1, "skeleton": [_person(0.1, 0.2), _person(0.5, 0.9), _person(0.3, 0.5)]},
                      {"frame_index": 3, "skeleton": [_person(0.2, 0.4)]}]}
    (root / "kinetics_val" / "small.json").write_text(json.dumps(three))
    (root / "kinetics_val" / "empty.json").write_text(json.dumps({"data": []}))
    _write_labels(root, "train", {REAL: ("flipping pancake", 2, True)})
    _write_labels(root, "val", {"small": ("tai chi", 0, True), "empty": ("tai chi", 0, False)})
    out = tmp_path / "k.pkl"
    assert main(["convert", "kinetics", str(root), str(out)]) == 0
    data = load_dataset(out)
    assert data["split"] == {"train": [REAL], "val": ["small"]}  # no-skeleton clip left out, as ST-GCN does
    assert data["classes"] == ["tai chi", "class_1", "flipping pancake"]
    assert data["layout"] == "openpose18" and data["fps"] == 30
    anns = {a["frame_dir"]: a for a in data["annotations"]}
    clip = anns[REAL]
    assert clip["label"] == 2 and clip["keypoint"].shape == (2, 189, 18, 2)
    assert clip["keypoint_score"].shape == (2, 189, 18) and clip["img_shape"] == (256, 340)
    raw = json.loads(real.read_text())["data"][0]
    best = max(raw["skeleton"], key=lambda p: sum(p["score"]))
    expected = np.array(best["pose"], np.float32).reshape(18, 2) * [340, 256]
    expected[np.array(best["score"]) == 0] = 0
    np.testing.assert_allclose(clip["keypoint"][0, raw["frame_index"] - 1], expected, rtol=1e-5)
    small = anns["small"]
    assert small["keypoint"].shape == (2, 3, 18, 2)
    np.testing.assert_allclose(small["keypoint_score"][:, 0, 0], [0.9, 0.5])  # the two best of three, best first
    np.testing.assert_allclose(small["keypoint"][:, 0, 0], [[170, 128], [102, 76.8]], rtol=1e-5)
    assert not small["keypoint"][:, 1].any() and small["keypoint_score"][1, 2].sum() == 0  # frame 2 absent


def test_a_labels_file_must_name_every_label(tmp_path, capsys):
    root = _root(tmp_path, ("train",))
    (root / "kinetics_train" / "c.json").write_text(json.dumps({"data": [{"frame_index": 1, "skeleton": [
        _person(0.4, 0.8)]}]}))
    _write_labels(root, "train", {"c": ("juggling", 5, True)})
    (tmp_path / "names.txt").write_text("a\nb\n")
    out = tmp_path / "k.pkl"
    assert main(["convert", "kinetics", str(root), str(out), "--labels", str(tmp_path / "names.txt")]) == 2
    assert "label 5 has no class name: only 2 names" in capsys.readouterr().err and not out.exists()


def test_clip_without_data_is_skipped_or_stops(tmp_path, capsys):
    root = _root(tmp_path, ("train",))
    (root / "kinetics_train" / "good.json").write_text(json.dumps({"data": [{"frame_index": 1, "skeleton": [
        _person(0.4, 0.8)]}]}))
    (root / "kinetics_train" / "nodata.json").write_text(json.dumps({"label": "x", "label_index": 0}))
    _write_labels(root, "train", {"good": ("a", 0, True), "nodata": ("a", 0, True)})
    out = tmp_path / "k.pkl"
    assert main(["convert", "kinetics", str(root), str(out), "--on-error", "stop"]) == 2
    assert "nodata.json has no 'data' list" in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob(".*.tmp"))
    assert main(["convert", "kinetics", str(root), str(out)]) == 0
    assert "skipped: nodata.json has no 'data' list" in capsys.readouterr().err
    assert load_dataset(out)["split"] == {"train": ["good"]}


@pytest.mark.parametrize("content, message", [
    ("{not json", "not readable JSON"),
    (json.dumps({"data": [{"frame_index": 1, "skeleton": [{"pose": [0.1] * 10, "score": [1] * 18}]}]}),
     "36 pose values"),
    (json.dumps({"data": [{"skeleton": []}]}), "malformed frame"),
    (json.dumps({"data": [{"frame_index": 1, "skeleton": []}]}), "no skeleton in any frame"),
])
def test_malformed_clips_name_the_file(tmp_path, content, message):
    path = tmp_path / "clip.json"
    path.write_text(content)
    with pytest.raises(SampleError, match=message):
        kinetics.read_clip(path)


def test_missing_folders_and_label_files_are_clear_errors(tmp_path, capsys):
    assert main(["convert", "kinetics", str(tmp_path), str(tmp_path / "o.pkl")]) == 2
    assert "kinetics_train" in capsys.readouterr().err
    root = _root(tmp_path)
    assert main(["convert", "kinetics", str(root), str(tmp_path / "o.pkl")]) == 2
    assert "kinetics_train_label.json" in capsys.readouterr().err
    (root / "kinetics_train_label.json").write_text("[1, 2]")
    assert main(["convert", "kinetics", str(root), str(tmp_path / "o.pkl")]) == 2
    assert "not an ST-GCN Kinetics label file" in capsys.readouterr().err
    (root / "kinetics_train" / "stray.json").write_text(json.dumps({"data": []}))
    _write_labels(root, "train", {})
    with pytest.raises(SampleError, match="stray.json is not in the split's label file"):
        kinetics.convert_file(root / "kinetics_train" / "stray.json", {})
