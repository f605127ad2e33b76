"""`bench fewshot`: k samples per class drawn, fine-tuned as the GUI does, scored beside 1-NN on the test split."""

from __future__ import annotations

import json

from train_helpers import tiny_dataset, tiny_train_config

from benchmarks.fewshot import draw
from main import main
from train.data.format import save_dataset
from train.loop import fit


def test_draws_are_k_per_class_and_reproducible(tmp_path):
    anns = tiny_dataset(tmp_path / "d.pkl", per_class_train=6)["annotations"]
    chosen = draw(anns, 2, seed=1)
    assert sorted(a["label"] for a in chosen) == [0, 0, 1, 1, 2, 2]
    assert [a["frame_dir"] for a in chosen] == [a["frame_dir"] for a in draw(anns, 2, seed=1)]
    assert [a["frame_dir"] for a in chosen] != [a["frame_dir"] for a in draw(anns, 2, seed=2)]


def test_the_benchmark_reports_accuracy_spread_and_cpu_time(tmp_path, capsys):
    data = tiny_dataset(tmp_path / "d.pkl", per_class_train=4, per_class_val=2)
    fit(tiny_train_config(tmp_path / "d.pkl", tmp_path / "backbone", epochs=1))
    data["split"]["test"] = data["split"].pop("val")
    save_dataset(data, tmp_path / "d.pkl")
    code = main(["bench", "fewshot", "--backbone", str(tmp_path / "backbone" / "final.pt"), "--data",
                 str(tmp_path / "d.pkl"), "--shots", "1", "2", "--draws", "2", "--train-option=--steps=4",
                 "--train-option=--batch-size=4", "--out", str(tmp_path / "fewshot.json")])
    assert code == 0
    report = json.loads((tmp_path / "fewshot.json").read_text())
    assert report["test_split"] == "test" and report["test_samples"] == 6
    assert [r["shots"] for r in report["results"]] == [1, 2]
    for result in report["results"]:
        assert len(result["runs"]) == 2 and 0 <= result["top1"]["mean"] <= 1 and result["top1"]["std"] >= 0
        assert all(r["steps"] == 4 and r["cpu_seconds"] > 0 for r in result["runs"])
        assert all(r["precision"] in ("float32", "bfloat16") for r in result["runs"])
        assert 0 <= result["nn1"]["mean"] <= 1
    assert "fewshot: 2 per class, draw 1" in capsys.readouterr().err
