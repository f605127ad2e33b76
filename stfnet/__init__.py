"""STF-Net: SpatioTemporal Focus for skeleton-based action recognition.

The names below are imported on first use, so that importing a light module of the package (``stfnet.errors``
for the command line's ``--help``) does not load torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["FocusMaps", "Layout", "STFNet", "STFNetConfig", "get_layout", "stgcn_config"]
_HOMES = {"FocusMaps": "stfnet.model", "STFNet": "stfnet.model", "STFNetConfig": "stfnet.model",
          "stgcn_config": "stfnet.model", "Layout": "stfnet.layouts", "get_layout": "stfnet.layouts"}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'stfnet' has no attribute '{name}'")
