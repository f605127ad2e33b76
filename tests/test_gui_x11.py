"""The real window on a real X server (Xvfb), at a laptop's and a desktop's screen size, with a screenshot."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from gui_fakes import grey_video, small_checkpoint
from PyQt6.QtGui import QImage

from realtime.gui.platform import missing_x11_packages

PROBE = Path(__file__).with_name("gui_x11_probe.py")


def _needs_xvfb() -> None:
    if shutil.which("xvfb-run") is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb; .ci/run installs it)")


@pytest.mark.slow
@pytest.mark.parametrize("screen", [(1280, 720), (1920, 1080)])
def test_the_real_window_fits_the_screen_and_shows_its_label(tmp_path, screen):
    _needs_xvfb()
    checkpoint = small_checkpoint(tmp_path / "small.pt")
    video = grey_video(tmp_path / "grey.avi")
    shot = tmp_path / f"window_{screen[0]}x{screen[1]}.png"
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY")}
    command = ["xvfb-run", "-a", "-s", f"-screen 0 {screen[0]}x{screen[1]}x24", sys.executable, str(PROBE),
               str(shot), str(checkpoint), str(video)]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert proc.returncode == 0 and lines, proc.stderr[-2000:]
    report = json.loads(lines[-1])
    assert report["platform"] == "xcb" and report["screen"] == list(screen)
    assert report["window"][0] <= screen[0] and report["window"][1] <= screen[1]  # it opens within the screen
    assert report["problems"] == []  # every panel whole, no label cut short
    assert report["saved"] and report["headline"] and report["labels"]

    image = QImage(str(shot))
    assert (image.width(), image.height()) == tuple(report["window"])
    # The headline box at the video's top-left corner holds text: dark box, bright glyphs.
    pixels = np.array([[image.pixelColor(x, y).lightness() for x in range(0, 200, 2)] for y in range(60, 130, 2)])
    assert pixels.max() > 200 and pixels.min() < 60


def test_missing_x11_libraries_are_named_by_their_packages(monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    import ctypes

    real = ctypes.CDLL

    def fake_cdll(name, *args, **kwargs):
        if name in ("libxcb-icccm.so.4", "libxcb-keysyms.so.1"):
            raise OSError(f"{name}: cannot open shared object file")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(ctypes, "CDLL", fake_cdll)
    missing = missing_x11_packages()
    assert {"libxcb-icccm4", "libxcb-keysyms1"} <= set(missing)
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert missing_x11_packages() == []


def test_opencvs_qt_paths_are_undone(monkeypatch):
    import cv2

    from realtime.gui.platform import prepare_qt_environment

    plugins = str(Path(cv2.__file__).parent / "qt" / "plugins")
    monkeypatch.setenv("QT_QPA_PLATFORM_PLUGIN_PATH", plugins)
    monkeypatch.setenv("QT_QPA_FONTDIR", "/usr/share/fonts")  # not OpenCV's: left alone
    prepare_qt_environment()
    assert "QT_QPA_PLATFORM_PLUGIN_PATH" not in os.environ and os.environ["QT_QPA_FONTDIR"] == "/usr/share/fonts"
