"""`main.py ablate`: a test-sized Table IV ablation end to end, resuming, and the commands it writes."""

from __future__ import annotations

import argparse
import json
import shlex

import pytest
import torch
from train_helpers import tiny_dataset

import train.loop
from main import main
from stfnet.checkpoint import load_checkpoint
from train.analysis.ablate import add_arguments, passthrough_argv, train_parser, variants
from train.data.format import load_dataset

TINY = ["--frames", "8", "--base-channels", "4", "--batch-size", "4", "--train-split", "train", "--test-split", "val",
        "--mirror", "0.5", "--device", "cpu", "--latency-repeats", "2"]


def _ablate(data, out, *extra: str) -> int:
    return main(["ablate", "--data", str(data), "--out", str(out), *TINY, *extra])


def _run_command(cmd: str) -> int:
    argv = shlex.split(cmd)
    assert argv[:2] == ["python", "main.py"]
    return main(argv[2:])


def test_tiny_ablation_trains_every_config_and_writes_the_table(tmp_path, monkeypatch):
    data = tmp_path / "d.pkl"
    tiny_dataset(data)
    assert _ablate(data, tmp_path / "abl", "--epochs", "1", "--seeds", "0") == 0

    names = [v.name for v in variants(2)]  # openpose18: joints + one part grain
    assert names == ["stgcn", "mask", "mask_tdf", "mask_mcf", "stfnet", "grains1"]
    table = (tmp_path / "abl" / "ablation.md").read_text()
    report = json.loads((tmp_path / "abl" / "ablation.json").read_text())
    assert "(1 epoch)" in table and "8-frame windows" in table and "seeds 0." in table and "final step" in table
    rows = [line for line in table.splitlines() if line.startswith("| ") and "`python main.py ablate" in line]
    assert len(rows) == len(names)
    for name, line in zip(names, rows, strict=True):
        assert f"(`{name}`)" in line and f"--configs {name} --seeds 0 --frames 8" in line and "--epochs 1" in line
        assert "1/1" in line and "pending" not in line
    assert [r["name"] for r in report["rows"]] == names
    assert report["budget"]["epochs"] == 1 and report["budget"]["frames"] == 8
    stgcn = report["rows"][0]
    assert stgcn["cost"]["baseline_ratio"] == 1.0 and stgcn["mask"] is stgcn["mcf"] is stgcn["tdf"] is False

    expected = {"stgcn": (False, False, False, None), "mask": (True, False, False, None),
                "mask_tdf": (True, False, True, None), "mask_mcf": (True, True, False, None),
                "stfnet": (True, True, True, None), "grains1": (True, True, True, 1)}
    dataset = load_dataset(data)
    for row in report["rows"]:
        (run,) = row["runs"]
        ckpt = load_checkpoint(run["folder"] + "/last.pt")
        m = ckpt.model_config
        assert (m.graph_mask, m.mcf, m.tdf, m.num_grains) == expected[row["name"]]
        summary = json.loads((tmp_path / "abl" / row["name"] / "seed0" / "metrics.json").read_text())
        assert ckpt.extra["epoch"] == 1 and run["top1"] == pytest.approx(summary["test"]["top1"])
        assert row["top1_mean"] == pytest.approx(run["top1"]) and row["top1_std"] is None
        # The run's own train command parses to exactly the config that was trained.
        argv = shlex.split(run["train_command"])[3:]
        parsed = train.loop.config_from_args(train_parser().parse_args(argv), dataset)
        stored = ckpt.extra["train_config"]
        assert {k: v for k, v in train.loop._config_summary(parsed).items() if k != "resume"} == \
            {k: v for k, v in stored.items() if k != "resume"}

    # A row's command reproduces that row alone: here everything is finished, so it trains nothing.
    calls = []
    monkeypatch.setattr(train.loop, "fit", lambda *a, **k: calls.append(a))
    assert _run_command(report["rows"][1]["command"]) == 0
    assert calls == []


def test_an_interrupted_ablation_resumes_without_retraining_finished_runs(tmp_path, monkeypatch, capsys):
    data = tmp_path / "d.pkl"
    tiny_dataset(data)
    out = tmp_path / "abl"
    configs = ["--configs", "stgcn", "mask_tdf", "stfnet", "--epochs", "2"]
    epochs_trained: list[tuple[str, int]] = []
    original = train.loop.train_one_epoch

    def count_then_interrupt(model, loader, optimizer, cfg, schedule, epoch, *rest):
        if len(epochs_trained) == 3:  # stgcn epochs 1-2 and mask_tdf epoch 1 are done: Ctrl-C in the 4th
            raise KeyboardInterrupt
        epochs_trained.append((cfg.out.split("/")[-2], epoch))
        return original(model, loader, optimizer, cfg, schedule, epoch, *rest)

    monkeypatch.setattr(train.loop, "train_one_epoch", count_then_interrupt)
    assert _ablate(data, out, *configs) == 130
    assert epochs_trained == [("stgcn", 0), ("stgcn", 1), ("mask_tdf", 0)]
    finished = (out / "stgcn" / "seed0" / "last.pt").stat().st_mtime_ns
    table = (out / "ablation.md").read_text()
    assert "| 1/1 |" in table and "| 0/1 | pending |" in table  # the report so far, written after each run

    monkeypatch.setattr(train.loop, "train_one_epoch", lambda *a: epochs_trained.append(
        (a[3].out.split("/")[-2], a[5])) or original(*a))
    assert _ablate(data, out, *configs) == 0
    assert epochs_trained[3:] == [("mask_tdf", 1), ("stfnet", 0), ("stfnet", 1)]  # the rest, once each
    assert (out / "stgcn" / "seed0" / "last.pt").stat().st_mtime_ns == finished
    err = capsys.readouterr().err
    assert "[ablate 1/3] stgcn seed 0: finished before, skipped" in err
    assert "[ablate 2/3] mask_tdf seed 0: resuming after epoch 1" in err
    report = json.loads((out / "ablation.json").read_text())
    assert [len(r["seeds_finished"]) for r in report["rows"]] == [1, 1, 1]
    assert all(load_checkpoint(out / n / "seed0" / "last.pt").extra["epoch"] == 2 for n in ("mask_tdf", "stfnet"))

    # A run from before a model setting existed ran with its default, so it still counts as finished.
    ckpt = torch.load(out / "stgcn" / "seed0" / "last.pt", weights_only=True)
    del ckpt["extra"]["train_config"]["model"]["mcf_identity_init"], ckpt["model_config"]["mcf_identity_init"]
    torch.save(ckpt, out / "stgcn" / "seed0" / "last.pt")
    assert _ablate(data, out, *configs) == 0
    assert "[ablate 1/3] stgcn seed 0: finished before, skipped" in capsys.readouterr().err

    # The same folder with another budget is refused before anything is trained.
    assert _ablate(data, out, *configs[:-2], "--epochs", "2", "--lr", "0.05") == 2
    assert "holds a run with other settings (lr)" in capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [
    (["--no-mcf"], "chooses the model variant per config"),
    (["--grains", "1"], "chooses the model variant per config"),
    (["--configs", "grains2"], "unknown config(s) grains2 for layout 'openpose18'"),
    (["--seeds", "1", "1"], "different seeds"),
])
def test_user_mistakes_are_one_sentence(tmp_path, capsys, extra, message):
    data = tmp_path / "d.pkl"
    tiny_dataset(data)
    assert _ablate(data, tmp_path / "abl", *extra) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "abl").exists()


def test_passed_through_training_options_round_trip():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--data", "d.pkl", "--out", "o", "--seed", "3", "--decay-at", "0.5", "0.7", "0.9",
                              "--no-use-score", "--tdf-motion", "--crop", "0.5", "0.9", "--lr", "0.05",
                              "--ignore-joints", "1", "2", "--stream", "bone"])
    assert args.seeds == [3]
    argv = passthrough_argv(args)
    assert "--seed" not in argv and "--out" not in argv and "--data" not in argv
    reparsed = train_parser().parse_args(["--data", "d.pkl", "--out", "o", *argv])
    for key in ("decay_at", "use_score", "tdf_motion", "crop", "lr", "ignore_joints", "stream"):
        assert getattr(reparsed, key) == getattr(args, key), key
