"""Which number format training computes in: float32, or mixed precision where the hardware makes it pay.

``--precision auto`` (the default) keeps today's rule for training from scratch: float16 with loss scaling on CUDA,
float32 on a CPU, so every figure in the README is reproduced as it was measured. Fine-tuning (``--init-from``, what
the Teach panel runs while the user waits) also uses bfloat16 on a CPU that computes it natively (AVX512-BF16 or AMX):
there a fine-tuning step takes 0.6 times as long (5-shot UTD-MHAD, batch 16 of 44 frames), with the same accuracy
(README, "Teaching new actions"). Elsewhere bfloat16 would be emulated and slower, so it stays off.
"""

from __future__ import annotations

import torch

PRECISIONS = ("auto", "fp32", "bf16")


def cpu_computes_bf16() -> bool:
    """Whether this CPU has bfloat16 instructions (AVX512-BF16 or AMX); False when torch cannot tell."""
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except (AttributeError, RuntimeError):
        return False


def autocast_dtype(precision: str, device: torch.device, fine_tuning: bool) -> torch.dtype | None:
    """The dtype to autocast the forward pass to, or None for float32 throughout."""
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if precision != "auto":
        raise ValueError(f"unknown precision '{precision}': use one of {', '.join(PRECISIONS)}")
    if device.type == "cuda":
        return torch.float16
    return torch.bfloat16 if device.type == "cpu" and fine_tuning and cpu_computes_bf16() else None
