"""Make Qt start on every desktop: undo what OpenCV does to Qt's environment, and name missing system libraries.

Importing cv2 (the opencv-contrib-python wheel MediaPipe brings) points ``QT_QPA_PLATFORM_PLUGIN_PATH`` and
``QT_QPA_FONTDIR`` at OpenCV's own Qt plugins. PyQt6 then loads OpenCV's xcb plugin, built against another Qt,
and aborts (exit 134) naming the wrong library. ``prepare_qt_environment()`` removes those two variables when
they point into OpenCV's folder, so PyQt6 uses its own plugins.

On X11, PyQt6's xcb plugin needs a few X libraries that minimal Linux installs lack; Qt would abort with a
misleading message, so ``missing_x11_packages()`` checks for them first and the app names the packages to
install. Wayland sessions and ``QT_QPA_PLATFORM=offscreen`` need none of them.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

# Shared libraries PyQt6's xcb platform plugin links to, and the Debian/Ubuntu packages that provide them.
X11_LIBRARIES = {
    "libxcb.so.1": "libxcb1", "libxcb-cursor.so.0": "libxcb-cursor0", "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0", "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0", "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-render.so.0": "libxcb-render0", "libxcb-shape.so.0": "libxcb-shape0", "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1", "libxcb-util.so.1": "libxcb-util1", "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1", "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0", "libfontconfig.so.1": "libfontconfig1", "libdbus-1.so.3": "libdbus-1-3",
}


def prepare_qt_environment() -> None:
    """Remove the Qt plugin and font paths OpenCV set, if it set them (call after importing cv2, before Qt)."""
    import cv2  # imported here so its side effect has happened before it is undone

    opencv_folder = str(Path(cv2.__file__).resolve().parent)
    for name in ("QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR"):
        value = os.environ.get(name)
        if value and str(Path(value).resolve()).startswith(opencv_folder):
            del os.environ[name]


def uses_x11() -> bool:
    """Whether Qt will pick its xcb (X11) platform plugin."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform:
        return platform.startswith("xcb")
    return bool(os.environ.get("DISPLAY")) and not os.environ.get("WAYLAND_DISPLAY")


def missing_x11_packages() -> list[str]:
    """Packages whose libraries the xcb plugin needs but the dynamic loader cannot find ([] off X11)."""
    if not uses_x11() or not Path("/proc").is_dir():  # Linux only: macOS and Windows bring their own
        return []
    missing = []
    for library, package in X11_LIBRARIES.items():
        try:
            ctypes.CDLL(library)
        except OSError:
            missing.append(package)
    return missing
