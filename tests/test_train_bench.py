"""`main.py bench train` at a tiny scale: it runs both models and reports their throughput as JSON."""

from __future__ import annotations

import json

from main import main


def test_bench_train_reports_both_models_and_their_ratio(capsys):
    assert main(["bench", "train", "--batch-size", "2", "--frames", "8", "--base-channels", "4", "--warmup", "1",
                 "--steps", "2", "--device", "cpu", "--threads", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["input"] == [2, 3, 8, 25, 2] and report["timed_steps"] == 2
    for name in ("stfnet", "stgcn"):
        assert report[name]["samples_per_second"] > 0 and report[name]["parameters"] > 0
    assert report["stfnet"]["parameters"] > report["stgcn"]["parameters"]
    ratio = report["stfnet"]["samples_per_second"] / report["stgcn"]["samples_per_second"]
    assert abs(report["ratio_stfnet_to_stgcn"] - ratio) < 0.01
