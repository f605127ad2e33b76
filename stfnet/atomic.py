"""Write a file so that a crash or an interruption leaves the old file or the new one, never half of one.

A temporary file sits beside its target as ``.NAME.<pid>-<random>.tmp``. An error or Ctrl-C deletes it; a process
killed outright (``kill -9``, a power cut) cannot, so the next write of the same target deletes the temporaries
whose writing process no longer runs.
"""

from __future__ import annotations

import glob
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


def temporary_path(path: Path, suffix: str = ".tmp") -> Path:
    """A new temporary name beside ``path`` that names this process."""
    return path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}{suffix}")


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Delete the temporaries of ``path`` left by processes that have ended; returns them."""
    if os.name == "nt":  # os.kill(pid, 0) would end the process there, not test it
        return []
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(\d+)-[0-9a-f]{{8}}\..+")
    removed = []
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*"):
        match = pattern.fullmatch(tmp.name)
        if match and not _running(int(match.group(1))):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


@contextmanager
def atomic_open(path: str | Path) -> Iterator[BinaryIO]:
    """A binary file to write; it replaces ``path`` when the block ends without an exception.

    The temporary file sits beside ``path`` (so the final rename stays on one file system) and is created with
    a plain ``open``, so it gets the same permissions as any file the user writes.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = temporary_path(path)
    try:
        with open(tmp, "xb") as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str) -> None:
    with atomic_open(path) as f:
        f.write(text.encode())
