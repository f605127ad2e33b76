"""Atomic writes: an error leaves the old file; temporaries of a killed writer are removed by the next write."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from stfnet.atomic import atomic_open, remove_stale_temporaries, temporary_path, write_text


def test_an_error_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "metrics.json"
    write_text(target, "old")
    with pytest.raises(RuntimeError), atomic_open(target) as f:
        f.write(b"half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["metrics.json"]


def test_temporaries_of_a_killed_writer_are_removed_by_the_next_write(tmp_path):
    target = tmp_path / "last.pt"
    # a writer that dies without cleaning up, as under kill -9: its temporary names its (now ended) process
    code = ("import os, sys; from pathlib import Path; from stfnet.atomic import temporary_path; "
            "p = temporary_path(Path(sys.argv[1])); p.write_bytes(b'half'); print(p); os._exit(9)")
    done = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True,
                          cwd=os.getcwd(), env={**os.environ, "PYTHONPATH": os.getcwd()})
    stale = tmp_path / os.path.basename(done.stdout.strip())
    assert done.returncode == 9 and stale.is_file() and stale.name.startswith(".last.pt.")
    ours = temporary_path(target)  # a temporary of a running process (this one) is left alone
    ours.write_bytes(b"busy")
    unrelated = tmp_path / ".last.pt.notes"
    unrelated.write_bytes(b"")
    write_text(target, "new")
    assert target.read_text() == "new" and not stale.exists() and ours.exists() and unrelated.exists()
    assert remove_stale_temporaries(target) == []
