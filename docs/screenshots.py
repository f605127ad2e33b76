"""Make the README's screenshots with the real app: real MediaPipe, the default model, a real video.

    python docs/screenshots.py VIDEO [--out docs] [--label jumping_jacks] [--size 1280x800]

Runs on the X server in $DISPLAY (e.g. under ``xvfb-run -s "-screen 0 1600x900x24"``) or offscreen. Plays VIDEO in
the window until the label shown is ``--label`` (any label when not given), saves ``screenshot.png``; then records
three examples on the Teach tab with its own Record button (into a scratch ``$STFNET_LIVE_HOME``, so your own
models are untouched) and saves ``teach.png``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from realtime.gui.platform import prepare_qt_environment  # noqa: E402

TEACH_EXAMPLES = 3
TEACH_SECONDS = 2.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--label", default=None, help="wait until this label is shown")
    parser.add_argument("--size", default="1280x800", help="window size, WIDTHxHEIGHT")
    parser.add_argument("--timeout", type=float, default=180.0, help="give up after this many seconds")
    args = parser.parse_args(argv)
    os.environ["STFNET_LIVE_HOME"] = tempfile.mkdtemp(prefix="stfnet-screenshots-")
    prepare_qt_environment()
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication

    from realtime.gui.app import create_window

    app = QApplication(sys.argv[:1])
    window = create_window()
    width, height = (int(v) for v in args.size.split("x"))
    window.resize(width, height)
    window.transport.loop.setChecked(True)
    window.show()
    window.start(video=args.video)
    saved: list[str] = []
    recorded = [0]

    def shoot(name: str) -> None:
        app.processEvents()
        if window.save_screenshot(args.out / name):
            saved.append(name)

    def main_view() -> None:
        prediction = window.prediction
        label = prediction.label if prediction is not None and prediction.state == "ok" else None
        if label is None or (args.label and label != args.label):
            QTimer.singleShot(200, main_view)
            return
        shoot("screenshot.png")
        window.docks["teach"].raise_()
        window.teach_panel.action.setText(args.label or label)
        record()

    def record() -> None:
        if not window.teach_panel.record.isEnabled():  # counting down or recording
            QTimer.singleShot(300, record)
            return
        if recorded[0] == TEACH_EXAMPLES:
            window.teach_panel.samples.selectRow(0)
            shoot("teach.png")
            window.close()
            return
        recorded[0] += 1
        window.teach.record(window.teach_panel.action.text(), TEACH_SECONDS)
        QTimer.singleShot(1000, record)

    QTimer.singleShot(500, main_view)
    QTimer.singleShot(int(args.timeout * 1000), app.quit)
    app.exec()
    window.shutdown()
    for name in saved:
        print(f"wrote {args.out / name}")
    return 0 if len(saved) == 2 else 1


if __name__ == "__main__":
    sys.exit(main())
