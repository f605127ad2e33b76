"""Make the documentation's screenshots with the real app: real MediaPipe, a shipped model, a real video.

    python docs/screenshots.py VIDEO OUT.png [--label squat] [--model exercise] [--size 1280x800] [--teach T.png]

Runs on the X server in $DISPLAY (e.g. ``xvfb-run -s "-screen 0 1920x1080x24" python docs/screenshots.py ...``)
or offscreen. Plays VIDEO in the window (at the size it chooses for the screen, or ``--size``) until the label shown
is ``--label`` (any label when not given) and saves OUT.png. With ``--teach``, it then records three examples of
``--action`` on the Teach tab with its own Record button (into a scratch ``$STFNET_LIVE_HOME``, so your own models
are untouched) and saves that view too.
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
    parser.add_argument("out", type=Path)
    parser.add_argument("--label", default=None, help="wait until this label is shown")
    parser.add_argument("--model", default=None, help="shipped model name or checkpoint (default: the default)")
    parser.add_argument("--size", default=None, help="window size WIDTHxHEIGHT (default: fitted to the screen)")
    parser.add_argument("--teach", type=Path, default=None, help="also record examples and save the Teach tab")
    parser.add_argument("--action", default="star_jump", help="the action the Teach tab records")
    parser.add_argument("--timeout", type=float, default=180.0, help="give up after this many seconds")
    args = parser.parse_args(argv)
    os.environ["STFNET_LIVE_HOME"] = tempfile.mkdtemp(prefix="stfnet-screenshots-")
    prepare_qt_environment()
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication

    from realtime.gui.app import create_window

    app = QApplication(sys.argv[:1])
    window = create_window()
    if args.size:
        window.resize(*(int(v) for v in args.size.split("x")))
    window.transport.loop.setChecked(True)
    window.show()
    window.start(video=args.video, checkpoint=args.model)
    saved: list[Path] = []
    recorded = [0]

    def shoot(path: Path) -> None:
        app.processEvents()
        if window.save_screenshot(path):
            saved.append(path)

    def main_view() -> None:
        prediction = window.prediction
        label = prediction.label if prediction is not None and prediction.state == "ok" else None
        if label is None or (args.label and label != args.label):
            QTimer.singleShot(200, main_view)
            return
        shoot(args.out)
        if args.teach is None:
            window.close()
            return
        window.docks["teach"].raise_()
        window.teach_panel.action.setText(args.action)
        record()

    def record() -> None:
        if not window.teach_panel.record.isEnabled():  # counting down or recording
            QTimer.singleShot(300, record)
            return
        if recorded[0] == TEACH_EXAMPLES:
            window.teach_panel.samples.selectRow(0)
            window.teach_panel.play.click()  # the recorded skeleton, played back beside the list
            QTimer.singleShot(800, lambda: (shoot(args.teach), window.close()))
            return
        recorded[0] += 1
        window.teach.record(window.teach_panel.action.text(), TEACH_SECONDS)
        QTimer.singleShot(1000, record)

    QTimer.singleShot(500, main_view)
    QTimer.singleShot(int(args.timeout * 1000), app.quit)
    app.exec()
    window.shutdown()
    for path in saved:
        print(f"wrote {path}")
    return 0 if len(saved) == 1 + (args.teach is not None) else 1


if __name__ == "__main__":
    sys.exit(main())
