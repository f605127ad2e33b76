"""Mixed precision: which dtype each kind of run computes in, and that a bfloat16 fine-tuning run trains."""

from __future__ import annotations

import json
import math

import pytest
import torch
from train_helpers import tiny_dataset, tiny_train_config

from train import precision
from train.loop import fit

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


@pytest.mark.parametrize(("name", "device", "fine_tuning", "native", "expected"), [
    ("auto", CPU, False, True, None),  # training from scratch on a CPU: float32, as every figure was measured
    ("auto", CPU, True, True, torch.bfloat16),  # fine-tuning on a CPU with bfloat16 instructions
    ("auto", CPU, True, False, None),  # ... and without them: emulated bfloat16 would be slower
    ("auto", CUDA, False, False, torch.float16),
    ("fp32", CUDA, True, True, None),
    ("bf16", CPU, False, False, torch.bfloat16),
])
def test_the_dtype_each_run_computes_in(monkeypatch, name, device, fine_tuning, native, expected):
    monkeypatch.setattr(precision, "cpu_computes_bf16", lambda: native)
    assert precision.autocast_dtype(name, device, fine_tuning) == expected


def test_an_unknown_precision_is_named():
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        precision.autocast_dtype("fp8", CPU, False)


def test_a_bfloat16_fine_tuning_run_trains_and_says_so(tmp_path):
    data = tmp_path / "d.pkl"
    tiny_dataset(data)
    fit(tiny_train_config(data, tmp_path / "backbone", epochs=2))
    summary = fit(tiny_train_config(data, tmp_path / "tuned", init_from=str(tmp_path / "backbone" / "final.pt"),
                                    epochs=3, precision="bf16"))
    history = json.loads((tmp_path / "tuned" / "metrics.json").read_text())["history"]
    assert all(math.isfinite(h["train_loss"]) for h in history)
    assert summary["choices"]["precision"] == "bfloat16"
    assert json.loads((tmp_path / "backbone" / "choices.json").read_text())["precision"] == "float32"
