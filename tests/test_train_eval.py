"""`main.py eval` and `main.py ensemble` end to end on a tiny trained checkpoint."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from train_helpers import CLASSES, tiny_dataset, tiny_train_config

from main import main
from stfnet.checkpoint import load_checkpoint, save_checkpoint
from train.analysis.scores import Scores, load_scores, save_scores
from train.data.format import load_dataset, save_dataset
from train.loop import fit


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A dataset and a checkpoint trained on it for one epoch, and one whose head always says 'clap'."""
    folder = tmp_path_factory.mktemp("eval")
    data = folder / "d.pkl"
    tiny_dataset(data)
    fit(tiny_train_config(data, folder / "run", epochs=1))
    rigged = load_checkpoint(folder / "run" / "best.pt")
    rigged.state_dict["head.weight"] = torch.zeros_like(rigged.state_dict["head.weight"])
    rigged.state_dict["head.bias"] = torch.tensor([1.0, 3.0, 2.0])  # clap > kick > wave, whatever the input
    rigged.stream = "bone"
    save_checkpoint(rigged, folder / "rigged.pt")
    return folder


def _eval(capsys, ckpt, data, split, out) -> dict:
    assert main(["eval", "--checkpoint", str(ckpt), "--data", str(data), "--split", split, "--out", str(out)]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_eval_writes_metrics_plot_and_scores(trained, tmp_path, capsys):
    summary = _eval(capsys, trained / "run" / "best.pt", trained / "d.pkl", "val", tmp_path / "ev")
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert summary["samples"] == metrics["num_samples"] == 6
    assert metrics["classes"] == CLASSES and metrics["stream"] == "joint"
    confusion = np.array(metrics["confusion_matrix"])
    assert confusion.shape == (3, 3) and confusion.sum() == 6 and (confusion.sum(axis=1) == 2).all()
    assert metrics["top1"] == pytest.approx(np.trace(confusion) / 6) and metrics["top5"] == 1.0
    png = (tmp_path / "ev" / "confusion.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000
    scores = load_scores(tmp_path / "ev" / "scores.npz")
    assert scores.scores.shape == (6, 3) and scores.frame_dirs == load_dataset(trained / "d.pkl")["split"]["val"]
    assert scores.classes == CLASSES and scores.stream == "joint" and scores.split == "val"
    np.testing.assert_array_equal(np.bincount(scores.labels), [2, 2, 2])
    assert not list((tmp_path / "ev").glob(".*.tmp"))


def test_per_class_accuracy_matches_a_hand_computation(trained, tmp_path, capsys):
    # the rigged head always predicts class 1 ('clap'), then 'kick', then 'wave'
    summary = _eval(capsys, trained / "rigged.pt", trained / "d.pkl", "train", tmp_path / "ev")
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert metrics["per_class_accuracy"] == {"wave": 0.0, "clap": 1.0, "kick": 0.0}
    assert metrics["per_class_samples"] == {"wave": 4, "clap": 4, "kick": 4}
    assert metrics["confusion_matrix"] == [[0, 4, 0], [0, 4, 0], [0, 4, 0]]
    assert summary["top1"] == pytest.approx(4 / 12, abs=1e-4) and metrics["top5"] == 1.0
    assert metrics["stream"] == "bone"  # the checkpoint's own stream is used


def test_a_class_without_samples_has_no_accuracy(trained, tmp_path, capsys):
    data = load_dataset(trained / "d.pkl")
    data["split"]["no_kick"] = [n for n in data["split"]["val"] if not n.startswith("kick")]
    save_dataset(data, tmp_path / "d.pkl")
    _eval(capsys, trained / "rigged.pt", tmp_path / "d.pkl", "no_kick", tmp_path / "ev")
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert metrics["per_class_accuracy"] == {"wave": 0.0, "clap": 1.0, "kick": None}


def test_eval_errors_are_one_sentence(trained, tmp_path, capsys):
    ckpt, data = trained / "run" / "best.pt", trained / "d.pkl"
    assert main(["eval", "--checkpoint", str(ckpt), "--data", str(data), "--split", "xsub_test"]) == 2
    assert "no split 'xsub_test' (splits: train, val)" in capsys.readouterr().err
    assert main(["eval", "--checkpoint", str(tmp_path / "none.pt"), "--data", str(data), "--split", "val"]) == 2
    assert "does not exist" in capsys.readouterr().err
    other = load_dataset(data)
    other["layout"] = "coco17"
    save_dataset(other, tmp_path / "coco.pkl")
    assert main(["eval", "--checkpoint", str(ckpt), "--data", str(tmp_path / "coco.pkl"), "--split", "val"]) == 2
    assert "layout 'openpose18' but" in capsys.readouterr().err
    other["layout"] = "openpose18"
    other["annotations"][-1]["label"] = 7
    save_dataset(other, tmp_path / "labels.pkl")
    assert main(["eval", "--checkpoint", str(ckpt), "--data", str(tmp_path / "labels.pkl"), "--split", "val"]) == 2
    assert "sample 'kick_5': label 7 is outside the class list (0 to 2)" in capsys.readouterr().err
    del other["classes"]  # without a class list of its own, the checkpoint's is the limit
    save_dataset(other, tmp_path / "nameless.pkl")
    assert main(["eval", "--checkpoint", str(ckpt), "--data", str(tmp_path / "nameless.pkl"), "--split", "val"]) == 2
    assert "label 7 but the checkpoint knows 3 classes" in capsys.readouterr().err


def test_ensemble_fuses_eval_scores(trained, tmp_path, capsys):
    _eval(capsys, trained / "run" / "best.pt", trained / "d.pkl", "val", tmp_path / "joint")
    _eval(capsys, trained / "rigged.pt", trained / "d.pkl", "val", tmp_path / "bone")
    a, b = load_scores(tmp_path / "joint" / "scores.npz"), load_scores(tmp_path / "bone" / "scores.npz")
    out = tmp_path / "fused.json"
    assert main(["ensemble", str(tmp_path / "joint" / "scores.npz"), str(tmp_path / "bone" / "scores.npz"),
                 "--weights", "0.5", "2", "--out", str(out)]) == 0
    fused = json.loads(out.read_text())
    by_hand = 0.5 * a.scores.astype(np.float64) + 2 * b.scores
    assert fused["top1"] == pytest.approx(float((by_hand.argmax(1) == a.labels).mean()), abs=1e-6)
    assert [i["stream"] for i in fused["inputs"]] == ["joint", "bone"] and fused["num_samples"] == 6
    assert "fused" in capsys.readouterr().out


def _scores(path, names, labels=None, classes=CLASSES):
    labels = np.zeros(len(names), np.int64) if labels is None else np.array(labels)
    save_scores(Scores(np.random.default_rng(0).normal(size=(len(names), len(classes))).astype(np.float32),
                       labels, names, classes, "joint"), path)
    return str(path)


@pytest.mark.parametrize("second, message", [
    (dict(names=["a", "b"]), "covers 2 samples but .* covers 3"),
    (dict(names=["a", "c", "b"]), "the same samples in another order .*sample 2 is 'c' there and 'b' here"),
    (dict(names=["a", "b", "x"]), "other samples"),
    (dict(names=["a", "b", "c"], classes=["x", "y", "z"]), "different class lists"),
    (dict(names=["a", "b", "c"], labels=[0, 1, 0]), "different labels"),
])
def test_ensemble_refuses_misaligned_scores(tmp_path, capsys, second, message):
    first = _scores(tmp_path / "a.npz", ["a", "b", "c"])
    other = _scores(tmp_path / "b.npz", **second)
    assert main(["ensemble", first, other]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert re.search(message, err), err


def test_ensemble_argument_errors(tmp_path, capsys):
    first = _scores(tmp_path / "a.npz", ["a"])
    assert main(["ensemble", first, first, "--weights", "1"]) == 2
    assert "1 weights for 2 score files" in capsys.readouterr().err
    assert main(["ensemble", first]) == 2
    assert "at least two" in capsys.readouterr().err
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    assert main(["ensemble", first, str(tmp_path / "junk.npz")]) == 2
    assert "is not a score file" in capsys.readouterr().err
