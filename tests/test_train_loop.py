"""The training loop: an interrupted run resumes to exactly the uninterrupted result; DDP on the CPU."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from train_helpers import tiny_dataset, tiny_train_config

from main import main
from stfnet.checkpoint import load_checkpoint
from stfnet.errors import UserError
from stfnet.layouts import get_layout
from train.data.augment import AugmentConfig
from train.data.dataset import SkeletonDataset
from train.data.format import load_dataset, save_dataset, split_annotations
from train.loop import fit, predict, topk_accuracy

ROOT = Path(__file__).resolve().parents[1]
TIMING = {"train_seconds", "samples_per_second"}


def _without_timing(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in m.items() if k not in TIMING} for m in history]


def test_interrupted_run_resumes_to_the_same_weights_and_metrics(tmp_path, monkeypatch):
    data = tmp_path / "d.pkl"
    tiny_dataset(data)
    straight = fit(tiny_train_config(data, tmp_path / "straight"))

    calls = {"n": 0}
    original_step = torch.optim.SGD.step

    def step_then_interrupt(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:  # 3 steps per epoch: the second step of epoch 2
            raise KeyboardInterrupt
        return original_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.SGD, "step", step_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        fit(tiny_train_config(data, tmp_path / "resumed"))
    monkeypatch.undo()
    assert load_checkpoint(tmp_path / "resumed" / "last.pt").extra["epoch"] == 1
    resumed = fit(tiny_train_config(data, tmp_path / "resumed", resume=True))

    assert _without_timing([resumed["final"]]) == _without_timing([straight["final"]])
    assert resumed["calibration"] == straight["calibration"]
    a, b = load_checkpoint(tmp_path / "straight" / "last.pt"), load_checkpoint(tmp_path / "resumed" / "last.pt")
    assert a.state_dict.keys() == b.state_dict.keys()
    for key in a.state_dict:
        torch.testing.assert_close(a.state_dict[key], b.state_dict[key], rtol=0, atol=0, msg=key)
    assert _without_timing(a.training_state["history"]) == _without_timing(b.training_state["history"])
    assert len(b.training_state["history"]) == 3
    history = json.loads((tmp_path / "resumed" / "metrics.json").read_text())["history"]
    assert [m["epoch"] for m in history] == [1, 2, 3] and [m["step"] for m in history] == [3, 6, 9]


def test_an_empty_split_is_a_clear_error(tmp_path):
    data = tiny_dataset(tmp_path / "d.pkl")
    data["split"]["val"] = []
    save_dataset(data, tmp_path / "d.pkl")
    with pytest.raises(UserError, match="split 'val' of .* holds no samples"):
        fit(tiny_train_config(tmp_path / "d.pkl", tmp_path / "run"))
    assert load_dataset(tmp_path / "d.pkl")["split"]["val"] == []


@pytest.mark.slow
def test_ddp_on_cpu_trains_and_only_rank_0_writes(tmp_path):
    data = tmp_path / "d.pkl"
    tiny_dataset(data)
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "main.py",
           "train", "--data", str(data), "--out", str(out), "--train-split", "train", "--val-split", "val",
           "--epochs", "2", "--batch-size", "4", "--frames", "8", "--base-channels", "4", "--mirror", "0.5",
           "--device", "cpu"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == ["best.pt", "choices.json", "final.pt", "last.pt", "metrics.csv",
                                                     "metrics.json"]
    assert load_checkpoint(out / "final.pt").training_state is None
    assert proc.stderr.count("epoch 2/2  step") == 1  # one process reports
    final = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(final) == 1 and json.loads(final[0])["out"] == str(out)
    ckpt = load_checkpoint(out / "last.pt")
    assert ckpt.extra["epoch"] == 2 and ckpt.labels == ["wave", "clap", "kick"]
    assert not any(k.startswith("module.") for k in ckpt.state_dict)  # the bare model, not the DDP wrapper


def test_the_summary_has_baselines_calibration_and_the_test_split_once(tmp_path):
    data = tiny_dataset(tmp_path / "d.pkl", per_class_train=6, per_class_val=3)
    data["split"]["test"] = data["split"].pop("val")
    save_dataset(data, tmp_path / "d.pkl")
    summary = fit(tiny_train_config(tmp_path / "d.pkl", tmp_path / "run", val_split=None, test_split="auto",
                                    epochs=4))
    choices = json.loads((tmp_path / "run" / "choices.json").read_text())
    assert choices["splits"] == {"train": "train", "val": "carved from train", "test": "test"}
    assert summary["test"]["samples"] == 9 and 0 <= summary["test"]["top1"] <= 1
    assert set(summary["baselines"]) == {"val", "test"} and set(summary["baselines"]["test"]) == {"nn1", "class_mean"}
    final = load_checkpoint(tmp_path / "run" / "final.pt")
    assert final.extra["temperature"] == summary["calibration"]["temperature"] > 0
    assert final.extra["min_confidence"] == pytest.approx(2 / 3, abs=1e-3)  # halfway between 1/3 and 1
    stored = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert stored["test"] == summary["test"] and stored["diagnostics"] == summary["diagnostics"]


def test_resuming_with_other_settings_or_without_training_state_is_refused(tmp_path):
    data = tmp_path / "d.pkl"
    tiny_dataset(data)
    fit(tiny_train_config(data, tmp_path / "run", epochs=1))
    with pytest.raises(UserError, match="other settings"):
        fit(tiny_train_config(data, tmp_path / "run", epochs=1, lr=0.2, resume=True))
    final = load_checkpoint(tmp_path / "run" / "final.pt")
    from stfnet.checkpoint import save_checkpoint
    save_checkpoint(final, tmp_path / "run" / "last.pt")  # a checkpoint without optimizer state
    with pytest.raises(UserError, match="no training state"):
        fit(tiny_train_config(data, tmp_path / "run", epochs=1, resume=True))


def test_a_run_from_before_a_setting_existed_resumes_while_the_setting_is_at_its_default(tmp_path):
    data = tmp_path / "d.pkl"
    tiny_dataset(data)
    fit(tiny_train_config(data, tmp_path / "run", epochs=1))
    last = tmp_path / "run" / "last.pt"
    payload = torch.load(last, weights_only=True)
    for key in ("precision", "arms_free_margin"):  # settings added after such a run was made
        del payload["extra"]["train_config"][key]
    torch.save(payload, last)
    assert fit(tiny_train_config(data, tmp_path / "run", epochs=1, resume=True))["final"]["epoch"] == 1
    with pytest.raises(UserError, match="other settings"):
        fit(tiny_train_config(data, tmp_path / "run", epochs=1, resume=True, precision="bf16"))


def test_fine_tuning_keeps_the_backbone_and_frozen_blocks_fixed(tmp_path):
    data = tmp_path / "d.pkl"
    tiny_dataset(data)
    fit(tiny_train_config(data, tmp_path / "backbone", epochs=2))
    backbone = load_checkpoint(tmp_path / "backbone" / "final.pt")
    two = tiny_dataset(tmp_path / "two.pkl", per_class_train=3, per_class_val=1)
    two["classes"] = ["up", "down", "side"]
    save_dataset(two, tmp_path / "two.pkl")
    fit(tiny_train_config(tmp_path / "two.pkl", tmp_path / "tuned", init_from=str(tmp_path / "backbone" / "final.pt"),
                          freeze=3, epochs=2))
    tuned = load_checkpoint(tmp_path / "tuned" / "final.pt")
    assert tuned.labels == ["up", "down", "side"] and tuned.normalize == backbone.normalize
    for key, value in backbone.state_dict.items():
        frozen = key.startswith(("data_bn.", "blocks.0.", "blocks.1.", "blocks.2."))
        if frozen and "num_batches_tracked" not in key and "running" not in key:
            torch.testing.assert_close(tuned.state_dict[key], value, msg=key)
    assert not torch.equal(tuned.state_dict["blocks.9.tcn.0.weight"], backbone.state_dict["blocks.9.tcn.0.weight"])


def test_the_temperature_fits_overconfident_logits_and_is_1_when_nothing_is_wrong():
    from train.calibration import fit_temperature, threshold_effect

    torch.manual_seed(0)
    labels = torch.randint(0, 3, (300,))
    logits = torch.randn(300, 3)
    logits[torch.arange(300), labels] += 1.0  # right about 60 % of the time
    temperature = fit_temperature(logits * 10, labels)  # ten times too confident
    assert 7 < temperature < 13
    assert fit_temperature(torch.eye(3) * 5, torch.arange(3)) == 1.0
    effect = threshold_effect(logits * 10, labels, temperature, 0.9)
    assert effect["rejected_wrong"] > effect["uncertain"] * 0.5 and 0 <= effect["kept_right"] <= 1


def test_a_run_ends_with_precise_batchnorm_statistics_and_fine_tuning_keeps_its_moving_averages(tmp_path):
    data = tiny_dataset(tmp_path / "d.pkl")
    cfg = tiny_train_config(tmp_path / "d.pkl", tmp_path / "scratch", epochs=2)
    fit(cfg)
    scratch = load_checkpoint(tmp_path / "scratch" / "final.pt")
    windows = SkeletonDataset(split_annotations(data, "train"), get_layout("openpose18"), scratch.normalize, "joint")
    # the moving averages (one update per training step) were replaced by an average over every training window
    batches = math.ceil(len(windows) / cfg.batch_size)
    assert int(scratch.state_dict["data_bn.num_batches_tracked"]) == batches
    last = load_checkpoint(tmp_path / "scratch" / "last.pt")  # the last period, before the end of the run
    assert int(last.state_dict["data_bn.num_batches_tracked"]) > batches
    assert not torch.equal(last.state_dict["blocks.9.tcn.1.running_mean"],
                           scratch.state_dict["blocks.9.tcn.1.running_mean"])

    fit(tiny_train_config(tmp_path / "d.pkl", tmp_path / "tuned", init_from=str(tmp_path / "scratch" / "final.pt"),
                          epochs=2))
    tuned_last = load_checkpoint(tmp_path / "tuned" / "last.pt")
    tuned = load_checkpoint(tmp_path / "tuned" / "final.pt")
    torch.testing.assert_close(tuned.state_dict["blocks.9.tcn.1.running_mean"],
                               tuned_last.state_dict["blocks.9.tcn.1.running_mean"])


def test_a_run_with_swapped_arms_trains_on_mixed_labels(tmp_path):
    tiny_dataset(tmp_path / "d.pkl", per_class_train=6)
    summary = fit(tiny_train_config(tmp_path / "d.pkl", tmp_path / "run", epochs=2,
                                    augment=AugmentConfig(rotate=10.0, swap_arms=1.0)))
    history = json.loads((tmp_path / "run" / "metrics.json").read_text())["history"]
    assert all(math.isfinite(h["train_loss"]) and 0 <= h["train_top1"] <= 1 for h in history)
    assert summary["choices"]["augment"]["swap_arms"] == 1.0
    assert load_checkpoint(tmp_path / "run" / "final.pt").labels == ["wave", "clap", "kick"]


def test_the_arms_free_margin_reaches_the_checkpoint_and_the_test_figure_is_the_apps_answer(tmp_path):
    data = tiny_dataset(tmp_path / "d.pkl", per_class_train=6, per_class_val=3)
    data["split"]["test"] = list(data["split"]["val"])
    save_dataset(data, tmp_path / "d.pkl")
    summary = fit(tiny_train_config(tmp_path / "d.pkl", tmp_path / "run", epochs=2, test_split="test",
                                    arms_free_margin=0.0))
    final = load_checkpoint(tmp_path / "run" / "final.pt")
    assert final.arms_free_margin == 0.0 and type(final.build_model()).__name__ == "ArmsFreeSecondReading"
    test = SkeletonDataset(split_annotations(data, "test"), final.layout, final.normalize, final.stream)
    logits, labels = predict(final.build_model(), test, torch.device("cpu"))
    assert summary["test"]["top1"] == topk_accuracy(logits, labels, 1)


def test_an_arms_free_margin_for_another_stream_is_a_clear_error(tmp_path, capsys):
    tiny_dataset(tmp_path / "d.pkl")
    assert main(["train", "--data", str(tmp_path / "d.pkl"), "--out", str(tmp_path / "run"), "--stream", "bone",
                 "--arms-free-margin", "0.2"]) == 2
    assert "--arms-free-margin needs the joint stream" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
