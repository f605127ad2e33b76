"""Run the real window on the X server in $DISPLAY (no offscreen platform), as a person would see it.

    python tests/gui_x11_probe.py OUT.png CHECKPOINT VIDEO

Opens the window at the size it chooses for that screen, plays VIDEO with a fake pose estimator (so the picture
and the skeleton are there without MediaPipe), waits for a prediction, saves a screenshot to OUT.png and prints
one JSON line: the Qt platform, the screen and window sizes, the headline, the labels shown, and
``layout_problems()``. Used by tests/test_gui_x11.py inside Xvfb.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

from gui_fakes import config  # noqa: E402
from PyQt6.QtCore import QTimer  # noqa: E402
from PyQt6.QtWidgets import QApplication  # noqa: E402

from realtime.gui.app import create_window  # noqa: E402
from realtime.gui.platform import prepare_qt_environment  # noqa: E402


def main(out: str, checkpoint: str, video: str) -> int:
    os.environ.pop("QT_QPA_PLATFORM", None)  # the real platform of the display
    prepare_qt_environment()
    app = QApplication(sys.argv[:1])
    window = create_window(config())
    window.transport.loop.setChecked(True)
    window.show()
    window.start(video=video, checkpoint=checkpoint)
    report: dict = {}

    def finish() -> None:
        prediction = window.prediction
        if prediction is None or prediction.state != "ok":
            QTimer.singleShot(200, finish)  # not yet: look again
            return
        app.processEvents()
        screen = app.primaryScreen().size()
        report.update(platform=app.platformName(), screen=[screen.width(), screen.height()],
                      window=[window.width(), window.height()], headline=window.video.headline(),
                      labels=[label for label, _ in window.bars.items()], problems=window.layout_problems(),
                      saved=window.save_screenshot(Path(out)))
        window.close()

    QTimer.singleShot(500, finish)
    QTimer.singleShot(60_000, app.quit)  # a hang ends the probe; the test sees the report is missing
    app.exec()
    window.shutdown()
    print(json.dumps(report))
    return 0 if report else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
