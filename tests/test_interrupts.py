"""Killed and terminated commands: SIGTERM ends `train` and `replay` as Ctrl-C does (exit 130, nothing
half-written); a killed `extract` leaves no worker process behind.

Each test runs the command in a subprocess and waits for observable progress (a file appearing), never for a
fixed time; the generous timeouts only catch hangs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from realtime_fakes import tiny_checkpoint, write_video
from train_helpers import tiny_dataset

ROOT = Path(__file__).resolve().parents[1]
HANG = 180.0  # seconds after which a test gives up: only a hang takes this long
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.name == "nt", reason="SIGTERM and kill -9 are POSIX signals")]


def _start(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(condition, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + HANG
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"the command ended before {what}: {process.stderr.read()[-2000:]}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"no {what} after {HANG:.0f} s")
        time.sleep(0.05)


def _terminate(process: subprocess.Popen) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    try:
        _, err = process.communicate(timeout=HANG)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("SIGTERM did not end the command")
    return process.returncode, err


def _temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*") if p.is_file()]


def test_sigterm_ends_train_cleanly_with_its_last_checkpoint_whole(tmp_path):
    data = tmp_path / "d.npz"
    tiny_dataset(data)
    out = tmp_path / "run"
    process = _start("main.py", "train", "--data", str(data), "--out", str(out), "--steps", "8000",
                     "--mirror", "0.5", "--frames", "8", "--base-channels", "4", "--batch-size", "4",
                     "--test-split", "none")
    _wait_for(lambda: (out / "last.pt").is_file(), process, "first checkpoint")
    code, err = _terminate(process)
    assert code == 130 and err.strip().splitlines()[-1] == "interrupted" and "Traceback" not in err
    assert not _temporaries(out), _temporaries(out)
    from stfnet.checkpoint import load_checkpoint

    assert load_checkpoint(out / "last.pt").training_state is not None  # whole, and resumable


def test_sigterm_ends_replay_cleanly_without_outputs(tmp_path):
    video = write_video(tmp_path / "long.avi", frames=3000, fps=30.0)
    checkpoint = tiny_checkpoint(tmp_path / "tiny.pt")
    out = tmp_path / "out"
    process = _start("main.py", "replay", str(video), "--model", str(checkpoint), "--out", str(out / "t.json"),
                     "--annotated", str(out / "a.avi"))
    _wait_for(lambda: bool(_temporaries(out)) if out.is_dir() else False, process, "annotated video under way")
    code, err = _terminate(process)
    assert code == 130 and err.strip().splitlines()[-1] == "interrupted" and "Traceback" not in err
    assert not any(out.iterdir()), list(out.iterdir())  # no timeline, no video, no temporary


DRIVER = """
import sys
from functools import partial
from realtime_fakes import AnnouncingPose
from train.data.extract import ExtractConfig, extract_dataset
extract_dataset(ExtractConfig(root=sys.argv[1], output=sys.argv[2], workers=2),
                estimator_factory=partial(AnnouncingPose, sys.argv[3]))
"""


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc to find child processes")
def test_a_killed_extract_leaves_no_process_behind(tmp_path):
    for name in ("jump", "sit"):
        (tmp_path / "videos" / name).mkdir(parents=True)
        for i in range(2):
            write_video(tmp_path / "videos" / name / f"clip{i}.avi", frames=400)  # 20 s each at 50 ms a frame
    process = _start("-c", DRIVER, str(tmp_path / "videos"), str(tmp_path / "mine.npz"), str(tmp_path))
    _wait_for(lambda: len(list(tmp_path.glob("started-*"))) == 2, process, "two workers extracting")
    workers = _children(process.pid)  # the two workers and multiprocessing's resource tracker
    assert {f"started-{pid}" for pid in workers} >= {p.name for p in tmp_path.glob("started-*")}
    process.kill()  # kill -9: the parent cannot tell its workers
    process.wait()
    deadline = time.monotonic() + HANG
    while any(_running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in workers if _running(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"{len(left)} worker processes outlived their parent"


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="watches the process's open files in /proc")
def test_sigterm_closes_the_window_without_a_traceback(tmp_path):
    video = write_video(tmp_path / "long.avi", frames=3000, fps=30.0)
    checkpoint = tiny_checkpoint(tmp_path / "tiny.pt")
    process = _start("main.py", "gui", "--video", str(video), "--model", str(checkpoint))  # offscreen: conftest
    process_fds = Path(f"/proc/{process.pid}/fd")

    def playing() -> bool:
        try:
            return any(os.readlink(fd) == str(video) for fd in process_fds.iterdir())
        except OSError:  # a descriptor closed while we looked
            return False

    _wait_for(playing, process, "video opened in the window")
    code, err = _terminate(process)
    assert code == 0 and "Traceback" not in err, err[-2000:]
