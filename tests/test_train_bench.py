"""`main.py bench train` and `bench model` at a tiny scale: they run every model and report ratios as JSON."""

from __future__ import annotations

import json

from main import main


def test_bench_train_reports_all_models_and_their_ratios(capsys):
    assert main(["bench", "train", "--batch-size", "2", "--frames", "8", "--base-channels", "4", "--warmup", "1",
                 "--steps", "2", "--device", "cpu", "--threads", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["input"] == [2, 3, 8, 25, 2] and report["timed_steps"] == 2 and report["threads"] == 1
    for name in ("stfnet", "stgcn", "original_stgcn"):
        assert report[name]["samples_per_second"] > 0 and report[name]["parameters"] > 0
    assert report["stfnet"]["parameters"] > report["stgcn"]["parameters"]
    for yardstick in ("stgcn", "original_stgcn"):
        ratio = report["stfnet"]["samples_per_second"] / report[yardstick]["samples_per_second"]
        assert report[f"ratio_stfnet_to_{yardstick}"] > 0
        assert abs(report[f"ratio_stfnet_to_{yardstick}"] - ratio) < 0.01


def test_bench_model_reports_every_model_and_the_ratios_to_both_yardsticks(capsys):
    assert main(["bench", "model", "--case", "live_window", "--repeats", "2", "--warmup", "1", "--device", "cpu",
                 "--threads", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["threads"] == 1
    case = report["latency_ms"]["cpu/live_window"]
    assert case["input"] == [1, 3, 64, 18, 1]
    for name in ("stfnet", "stfnet_fused", "stgcn", "stgcn_fused", "original_stgcn"):
        assert case[name] > 0
    for model, yardstick in [("stfnet", "original_stgcn"), ("stfnet_fused", "original_stgcn"), ("stfnet", "stgcn"),
                             ("stfnet_fused", "stgcn_fused")]:
        ratio = case[f"ratio_{model}_to_{yardstick}"]
        assert ratio > 0 and abs(ratio - case[model] / case[yardstick]) < 0.01 * ratio + 0.002
    params = report["parameters"]["ntu60"]
    assert params["stfnet"] > params["stgcn"] > 0 and params["original_stgcn"] > 0
