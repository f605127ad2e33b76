"""Where the default model lives, in one place."""

from __future__ import annotations

from pathlib import Path

from stfnet.errors import CheckpointError

# The live model: STF-Net trained on UTD-MHAD in the OpenPose 18-joint layout (installed by the training pipeline).
DEFAULT_CHECKPOINT = Path(__file__).resolve().parents[1] / "assets" / "stfnet_utd_openpose18.pt"


def resolve_checkpoint(path: str | Path | None) -> Path:
    """The checkpoint the user named, or the default model; one clear sentence when neither is there."""
    if path is not None:
        return Path(path)
    if not DEFAULT_CHECKPOINT.is_file():
        raise CheckpointError(f"no checkpoint given and the default model {DEFAULT_CHECKPOINT} is not installed; "
                              f"pass --checkpoint PATH to a trained checkpoint")
    return DEFAULT_CHECKPOINT
