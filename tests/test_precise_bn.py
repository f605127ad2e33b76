"""Precise BatchNorm statistics: plain averages over training batches replace the moving averages."""

from __future__ import annotations

import torch
from torch import nn

from train.precise_bn import recompute_batchnorm_statistics


def _batches(count: int, shift: float = 3.0, scale: float = 2.0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    gen = torch.Generator().manual_seed(0)
    return [(torch.randn(16, 4, generator=gen) * scale + shift, torch.zeros(16)) for _ in range(count)]


def test_the_statistics_become_the_average_over_the_batches_and_the_model_keeps_its_mode():
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4)).eval()
    with torch.no_grad():
        model[0].weight.copy_(torch.eye(4))
        model[0].bias.zero_()
    model[1].running_mean.fill_(-50.0)  # what a last extreme batch leaves in a moving average
    model[1].running_var.fill_(900.0)
    batches = _batches(10)
    assert recompute_batchnorm_statistics(model, batches, torch.device("cpu"), limit=8) == 8
    used = torch.cat([x for x, _ in batches[:8]])
    torch.testing.assert_close(model[1].running_mean, used.mean(0), rtol=1e-5, atol=1e-5)
    # the average of the batches' (unbiased) variances: close to the pooled variance for equal batches
    per_batch = torch.stack([x.var(0) for x, _ in batches[:8]]).mean(0)
    torch.testing.assert_close(model[1].running_var, per_batch, rtol=1e-5, atol=1e-5)
    assert not model.training and model[1].momentum == 0.1


def test_without_batches_the_statistics_stay_as_they_were():
    model = nn.Sequential(nn.BatchNorm1d(4))
    model[0].running_mean.fill_(2.0)
    assert recompute_batchnorm_statistics(model, [], torch.device("cpu")) == 0
    assert torch.equal(model[0].running_mean, torch.full((4,), 2.0)) and model.training
