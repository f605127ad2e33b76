"""`python main.py gui`: the live window on a camera or a video file.

    python main.py gui [--camera N | --video FILE] [--model NAME_OR_PATH] [--min-confidence P]
                       [--pose-model FILE.task] [--screenshot OUT.png --quit-after SECONDS]

Without --model the default shipped model (stfnet/shipped.py) is loaded; without --video,
camera N (default 0) is opened. Problems (no camera, a checkpoint that does not fit) are shown in the window,
which stays usable. --screenshot saves a PNG of the window after --quit-after seconds (default 10), then quits:
with QT_QPA_PLATFORM=offscreen that works without a display.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from PyQt6.QtCore import QThread, QTimer
from PyQt6.QtGui import QColor, QPalette
from PyQt6.QtWidgets import QApplication

from realtime.gui.platform import missing_x11_packages, prepare_qt_environment
from realtime.gui.widgets import style
from realtime.pose import MIN_VISIBILITY
from stfnet.errors import UserError

if TYPE_CHECKING:  # the window brings torch: imported when the window is made, so --help answers at once
    from realtime.gui.window import MainWindow
    from realtime.gui.worker import WorkerConfig

DEFAULT_SCREENSHOT_SECONDS = 10.0
DEFAULT_EVERY_MS = 100.0  # the display needs no more than ten predictions a second; pose gets the CPU


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--camera", type=int, default=0, metavar="N", help="camera index to open (default 0)")
    source.add_argument("--video", type=Path, default=None, metavar="FILE", help="play a video file instead")
    parser.add_argument("--model", "--checkpoint", dest="model", metavar="NAME_OR_PATH",
                        help="shipped model name (exercise, gestures) or checkpoint file (default: the default model)")
    parser.add_argument("--min-confidence", type=float, default=None, metavar="P",
                        help="calibrated probability below which a prediction is shown as uncertain "
                             "(default: the model's own)")
    parser.add_argument("--pose-model", type=Path, default=None, metavar="FILE.task",
                        help="MediaPipe Tasks pose_landmarker .task file (default: MediaPipe's bundled model)")
    parser.add_argument("--max-people", type=int, default=1, metavar="N",
                        help="people to follow (MediaPipe's bundled models; or a .task file with --pose-model)")
    parser.add_argument("--confidence", type=float, default=MIN_VISIBILITY,
                        help="joints the pose estimator is less sure of count as not seen (0-1)")
    parser.add_argument("--every-ms", type=float, default=DEFAULT_EVERY_MS,
                        help="classify at most every N ms of wall-clock time")
    parser.add_argument("--skeleton-only", action="store_true",
                        help="draw the skeleton on a blank canvas instead of the video (View > Show video)")
    parser.add_argument("--screenshot", type=Path, default=None, metavar="OUT.png",
                        help="save a PNG of the window, then quit (after --quit-after seconds)")
    parser.add_argument("--quit-after", type=float, default=None, metavar="SECONDS",
                        help="close the window after this many seconds")


def apply_theme(app: QApplication) -> None:
    """A dark Fusion palette, so the video and the maps are not framed in bright grey."""
    app.setStyle("Fusion")
    palette = QPalette()
    colours = {
        QPalette.ColorRole.Window: "#25272c", QPalette.ColorRole.WindowText: style.PANEL_TEXT,
        QPalette.ColorRole.Base: "#1b1d21", QPalette.ColorRole.AlternateBase: "#2b2e34",
        QPalette.ColorRole.Text: style.PANEL_TEXT, QPalette.ColorRole.Button: "#33363d",
        QPalette.ColorRole.ButtonText: style.PANEL_TEXT, QPalette.ColorRole.Highlight: "#4e79a7",
        QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.ToolTipBase: "#33363d",
        QPalette.ColorRole.ToolTipText: style.PANEL_TEXT, QPalette.ColorRole.PlaceholderText: style.MUTED_TEXT,
    }
    for role, colour in colours.items():
        palette.setColor(role, QColor(colour))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor(style.MUTED_TEXT))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText, QColor(style.MUTED_TEXT))
    app.setPalette(palette)


def create_window(config: WorkerConfig | None = None) -> MainWindow:
    """The window with its capture worker moved to a new QThread (started by ``window.start()``)."""
    from realtime.gui.window import MainWindow
    from realtime.gui.worker import PipelineWorker

    app = QApplication.instance()
    if isinstance(app, QApplication):
        apply_theme(app)
    worker = PipelineWorker(config)
    thread = QThread()
    thread.setObjectName("capture")
    worker.moveToThread(thread)
    window = MainWindow(worker, thread)
    thread.setParent(window)  # lives as long as the window; shutdown() stops it before the window goes
    return window


def run(args: argparse.Namespace) -> int:
    if args.quit_after is not None and args.quit_after <= 0:
        raise UserError("--quit-after must be a positive number of seconds")
    if not 0.0 <= args.confidence <= 1.0 or args.every_ms < 0:
        raise UserError("--confidence must be between 0 and 1 and --every-ms at least 0")
    if args.min_confidence is not None and not 0.0 <= args.min_confidence <= 1.0:
        raise UserError("--min-confidence must be between 0 and 1")
    if not 1 <= args.max_people <= 6:
        raise UserError("--max-people must be between 1 and 6")
    prepare_qt_environment()
    missing = missing_x11_packages()
    if missing:
        raise UserError(f"the window needs X11 libraries this system lacks: install them with `sudo apt-get install "
                        f"{' '.join(missing)}` (Debian/Ubuntu names), or run with QT_QPA_PLATFORM=offscreen")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("STF-Net Live")
    from realtime.gui.worker import WorkerConfig

    window = create_window(WorkerConfig(every_ms=args.every_ms))
    window.action_show_video.setChecked(not args.skeleton_only)
    window.show()
    window.start(camera=args.camera, video=str(args.video) if args.video else None,
                 checkpoint=args.model, pose_model=str(args.pose_model) if args.pose_model else None,
                 confidence=args.confidence, uncertain_below=args.min_confidence, max_people=args.max_people)
    outcome = {"code": 0}

    def finish() -> None:
        if args.screenshot is not None and not window.save_screenshot(args.screenshot):
            print(f"error: could not save the screenshot {args.screenshot}", file=sys.stderr)
            outcome["code"] = 1
        window.close()  # the last window: the application quits (an extra quit() would leak into later loops)

    quit_after = args.quit_after if args.quit_after is not None else (
        DEFAULT_SCREENSHOT_SECONDS if args.screenshot is not None else None)
    if quit_after is not None:
        QTimer.singleShot(int(quit_after * 1000), finish)
    # Ctrl-C in the terminal and SIGTERM close the window (an exception raised inside Qt's loop would only be
    # printed as a traceback); the idle timer lets Python see the signal while Qt runs.
    previous = {sig: signal.signal(sig, lambda *_: window.close()) for sig in (signal.SIGINT, signal.SIGTERM)}
    idle = QTimer(window)
    idle.start(200)
    idle.timeout.connect(lambda: None)
    try:
        app.exec()
    finally:
        window.shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if args.screenshot is not None and outcome["code"] == 0:
        print(f"screenshot saved to {args.screenshot}")
    return outcome["code"]
