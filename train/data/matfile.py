"""MATLAB files (UTD-MHAD, Penn Action), read only after the sizes they declare are checked.

A ``.mat`` file's arrays may be compressed, so a small file can declare arrays of any size; ``loadmat`` would
allocate them. The headers (``whosmat``) are read first and a file declaring more than ``MAX_VALUES`` values in
all is refused as broken: a real annotation holds a few thousand.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from train.data.format import SampleError

MAX_VALUES = 10_000_000  # 80 MB of doubles


def load_mat(path: Path) -> dict[str, Any]:
    from scipy.io import loadmat, whosmat  # scipy is only needed here

    try:
        declared = sum(math.prod(shape) for _, shape, _ in whosmat(str(path)))
        if declared > MAX_VALUES:
            raise SampleError(f"{path.name} declares {declared:,} values; a real annotation file holds far fewer "
                              "(damaged?)")
        return loadmat(str(path))
    except SampleError:
        raise
    except Exception as exc:  # scipy raises several types for truncated or foreign files
        raise SampleError(f"{path.name} is not a readable MATLAB file ({type(exc).__name__})") from None
