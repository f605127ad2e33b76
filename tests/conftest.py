"""Shared test setup: headless Qt, deterministic torch, and where the real data in ../shared lives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# OpenCV points Qt at its own plugins on import; undo that before pytest-qt creates the application.
from realtime.gui.platform import prepare_qt_environment  # noqa: E402

prepare_qt_environment()

SHARED = Path(os.environ.get("STFNET_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def shared_path(*parts: str) -> Path:
    """A file under ../shared, or a skip with the reason when it is not there."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available: {path} (set STFNET_SHARED to the shared folder)")
    return path


@pytest.fixture(autouse=True)
def _seed_torch():
    import torch

    torch.manual_seed(0)
    # Tiny models on a shared 2-core machine: one thread is steady, two stall for seconds at a time.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
