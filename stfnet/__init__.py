"""STF-Net: SpatioTemporal Focus for skeleton-based action recognition."""

from stfnet.layouts import Layout, get_layout
from stfnet.model import FocusMaps, STFNet, STFNetConfig, stgcn_config

__all__ = ["FocusMaps", "Layout", "STFNet", "STFNetConfig", "get_layout", "stgcn_config"]
