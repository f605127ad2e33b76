"""Pure functions that turn the model's focus outputs into what a person looks at (shared by the GUI and the
analyses, so both show the same thing)."""

from __future__ import annotations

import numpy as np


def relative_profile(tdf: np.ndarray) -> np.ndarray:
    """Per-frame TDF weight relative to the window's mean: ``(..., C, T)`` -> ``(..., T)`` (0: as the mean, 0.1:
    a tenth more). The raw weights sit near 0.5 for every frame and hide how the model ranks the frames."""
    profile = np.asarray(tdf, dtype=np.float64).mean(axis=-2)
    return profile / profile.mean(axis=-1, keepdims=True) - 1.0


def stretch(values: np.ndarray, seen: np.ndarray | None = None) -> np.ndarray | None:
    """Values stretched to [0, 1] between the lowest and highest of those ``seen`` (all when None or none);
    None when they are all equal or not finite."""
    values = np.asarray(values, dtype=np.float64)
    mask = np.ones(values.shape, bool) if seen is None or not np.any(seen) else np.asarray(seen, bool)
    low, high = values[mask].min(), values[mask].max()
    if not np.isfinite([low, high]).all() or high <= low:
        return None
    return np.clip((values - low) / (high - low), 0.0, 1.0)
