"""The training loop: an interrupted run resumes to exactly the uninterrupted result; DDP on the CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from train_helpers import tiny_dataset, tiny_train_config

from stfnet.checkpoint import load_checkpoint
from stfnet.errors import UserError
from train.data.format import load_dataset, save_dataset
from train.loop import fit

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

    assert _without_timing([resumed]) == _without_timing([straight])
    a, b = load_checkpoint(tmp_path / "straight" / "last.pt"), load_checkpoint(tmp_path / "resumed" / "last.pt")
    assert a.state_dict.keys() == b.state_dict.keys()
    for key in a.state_dict:
        torch.testing.assert_close(a.state_dict[key], b.state_dict[key], rtol=0, atol=0, msg=key)
    assert _without_timing(a.training_state["history"]) == _without_timing(b.training_state["history"])
    assert len(b.training_state["history"]) == 3
    history = json.loads((tmp_path / "resumed" / "metrics.json").read_text())
    assert [m["epoch"] for m in history] == [1, 2, 3]


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
           "--epochs", "2", "--batch-size", "4", "--frames", "8", "--base-channels", "4", "--warmup-epochs", "1",
           "--device", "cpu"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == ["best.pt", "final.pt", "last.pt", "metrics.csv", "metrics.json"]
    assert load_checkpoint(out / "final.pt").training_state is None
    assert proc.stderr.count("epoch 2/2  loss") == 1  # one process reports
    final = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(final) == 1 and json.loads(final[0])["epoch"] == 2
    ckpt = load_checkpoint(out / "last.pt")
    assert ckpt.extra["epoch"] == 2 and ckpt.labels == ["wave", "clap", "kick"]
    assert not any(k.startswith("module.") for k in ckpt.state_dict)  # the bare model, not the DDP wrapper
