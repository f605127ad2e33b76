"""What the Teach panel does: record samples (with a countdown), keep them, and train a model in the background.

Recording runs on the capture worker (``start_recording`` / ``stop_recording``); each finished recording is
written at once to the custom model's dataset (``realtime.teach.TeachSession``). Training is `main.py train`
in a separate process (QProcess), fine-tuning a backbone (``--init-from``: the shipped Teach backbone while a
shipped model of the same skeletons runs, else the model in use, ``stfnet.shipped.teach_backbone``); its progress
lines move the progress bar, Cancel sends it SIGTERM (the trainer stops cleanly, leaving nothing
half-written), and when it succeeds the new model is copied into the custom model's folder, loaded, and added
to the model menu. More samples can be added and the model trained again.
"""

from __future__ import annotations

import re
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

from PyQt6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, pyqtSignal

from realtime.gui.widgets.teach_panel import TeachPanel
from realtime.gui.worker import ModelInfo
from realtime.teach import RecordedSkeleton, TeachSession, check_name
from stfnet.atomic import atomic_open
from stfnet.errors import UserError
from stfnet.shipped import model_title, teach_backbone

COUNTDOWN_SECONDS = 3
COUNTDOWN_TICK_MS = 1000
MAIN = Path(__file__).resolve().parents[2] / "main.py"
PROGRESS = re.compile(r"step (\d+)/(\d+)")
CANCEL_GRACE_MS = 5000  # after SIGTERM, the trainer gets this long to finish its current step


class TeachController(QObject):
    recording_requested = pyqtSignal(float)  # seconds (0: until stopped), to the capture worker
    stop_recording_requested = pyqtSignal()
    model_trained = pyqtSignal(str)  # path of the new model, to load and list

    def __init__(self, panel: TeachPanel, current_model: Callable[[], ModelInfo | None],
                 train_arguments: tuple[str, ...] = ()) -> None:
        super().__init__(panel)
        self.panel = panel
        self.current_model = current_model
        self.train_arguments = train_arguments  # extra `main.py train` options (tests shorten the run)
        self.session: TeachSession | None = None
        self._action = ""
        self._countdown = 0
        self._timer = QTimer(self)
        self._timer.setInterval(COUNTDOWN_TICK_MS)
        self._timer.timeout.connect(self._tick)
        self._process: QProcess | None = None
        self._run: Path | None = None
        self._cancelled = False
        panel.record_requested.connect(self.record)
        panel.stop_requested.connect(self.stop)
        panel.mark_in_requested.connect(self.mark_in)
        panel.mark_out_requested.connect(self.stop)
        panel.play_requested.connect(self.play)
        panel.rename_requested.connect(self.rename)
        panel.delete_requested.connect(self.delete)
        panel.train_requested.connect(self.train)
        panel.cancel_requested.connect(self.cancel)
        panel.model_name.editingFinished.connect(self.refresh)

    # --- samples ------------------------------------------------------------------------------------------------

    def _session(self) -> TeachSession:
        """The custom model named in the panel, in the current model's layout."""
        model = self.current_model()
        if model is None:
            raise UserError("load a model first: your samples are recorded in its skeleton layout")
        name = check_name(self.panel.model_name.text(), "model")
        if self.session is None or self.session.name != name or self.session.layout != model.layout:
            self.session = TeachSession.open(name, model.layout)
        return self.session

    def refresh(self) -> None:
        try:
            session = self._session()
        except UserError as exc:
            self.panel.set_status(_sentence(str(exc)))
            return
        self.panel.set_samples(session.samples())
        counts = ", ".join(f"{label} {n}" for label, n in session.counts().items()) or "none yet"
        self.panel.set_status(f"Samples in {session.folder}: {counts}")

    def record(self, action: str, seconds: float) -> None:
        if not self._start(action):
            return
        self._seconds = seconds
        self._countdown = COUNTDOWN_SECONDS
        self.panel.set_recording(True)
        self.panel.set_status(f"Get ready: recording '{self._action}' in {self._countdown}…")
        self._timer.start()

    def mark_in(self, action: str) -> None:
        if self._start(action):
            self.panel.set_recording(True)
            self.panel.set_status(f"Recording '{self._action}' until Mark out…")
            self.recording_requested.emit(0.0)

    def _start(self, action: str) -> bool:
        try:
            self._action = check_name(action, "action")
            self._session()
        except UserError as exc:
            self.panel.set_status(_sentence(str(exc)))
            return False
        return True

    def _tick(self) -> None:
        self._countdown -= 1
        if self._countdown > 0:
            self.panel.set_status(f"Get ready: recording '{self._action}' in {self._countdown}…")
            return
        self._timer.stop()
        self.panel.set_status(f"Recording '{self._action}' for {self._seconds:.0f} s…")
        self.recording_requested.emit(self._seconds)

    def stop(self) -> None:
        if self._timer.isActive():  # still counting down: nothing was recorded
            self._timer.stop()
            self.panel.set_recording(False)
            self.panel.set_status("Recording cancelled.")
            return
        self.stop_recording_requested.emit()

    def recording_finished(self, recording: RecordedSkeleton) -> None:
        self.panel.set_recording(False)
        if len(recording.keypoints) < 2:
            self.panel.set_status("Nobody was seen while recording: stand in view of the camera and try again.")
            return
        try:
            self._session().add(self._action, recording.keypoints, recording.scores, recording.fps)
        except UserError as exc:
            self.panel.set_status(_sentence(str(exc)))
            return
        self.refresh()
        self.panel.set_status(f"Saved a {recording.seconds:.1f} s sample of '{self._action}'. "
                              + self.panel.status.text())

    def play(self, name: str) -> None:
        keypoints, scores, fps = self._session().keypoints(name)
        self.panel.player.play(keypoints, scores, fps, self._session().layout.edges)

    def rename(self, name: str, action: str) -> None:
        try:
            self._session().rename(name, action)
        except UserError as exc:
            self.panel.set_status(_sentence(str(exc)))
            return
        self.refresh()

    def delete(self, name: str) -> None:
        self._session().delete(name)
        self.refresh()

    # --- training -----------------------------------------------------------------------------------------------

    def train(self, model_name: str) -> None:
        try:
            session = self._session()
        except UserError as exc:
            self.panel.set_training(False, 0, _sentence(str(exc)))
            return
        counts = session.counts()
        if len(counts) < 2:
            self.panel.set_training(False, 0, "Record at least two different actions before training.")
            return
        backbone = teach_backbone(self.current_model().path)
        self._run = session.folder / "runs" / time.strftime("%Y%m%d-%H%M%S")
        arguments = [str(MAIN), "train", "--data", str(session.dataset_path), "--init-from", str(backbone),
                     "--out", str(self._run), "--test-split", "none", "--mirror", "0", *self.train_arguments]
        process = QProcess(self)
        process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        process.readyReadStandardOutput.connect(self._on_output)
        process.finished.connect(self._on_finished)
        self._process = process
        self._cancelled = False
        self._output = ""
        self.panel.set_training(True, 0, f"Training '{session.name}' on {sum(counts.values())} samples of "
                                         f"{len(counts)} actions, from {model_title(backbone)}…")
        # Mirroring is off: your own actions may differ only in which side does them. One thread, so that the other
        # core keeps the live video going: 5-shot, 27 actions, from the Teach backbone take 52 s (and 52 s of CPU);
        # two threads would take 36 s but 71 s of CPU, taken from the video.
        environment = QProcessEnvironment.systemEnvironment()
        environment.insert("OMP_NUM_THREADS", "1")
        process.setProcessEnvironment(environment)
        process.start(sys.executable, arguments)

    def training(self) -> bool:
        return self._process is not None

    def _on_output(self) -> None:
        self._output += bytes(self._process.readAllStandardOutput()).decode(errors="replace")
        found = PROGRESS.findall(self._output)
        if found:
            done, total = (int(n) for n in found[-1])
            self.panel.set_training(True, int(100 * done / max(total, 1)), f"Training: step {done} of {total}")
        self._output = self._output[-2000:]  # keep the tail for an error message

    def _on_finished(self, code: int, _status: QProcess.ExitStatus) -> None:
        process, self._process = self._process, None
        process.deleteLater()
        final = self._run / "final.pt" if self._run else None
        if code != 0 or final is None or not final.is_file():
            last = next((line for line in reversed(self._output.splitlines()) if line.startswith("error:")), "")
            text = "Training cancelled." if self._cancelled else f"Training failed. {last}".strip()
            self.panel.set_training(False, 0, text)
            return
        session = self.session
        with atomic_open(session.model_path) as out, open(final, "rb") as src:  # the folder's model, whole or not
            shutil.copyfileobj(src, out)
        self.panel.set_training(False, 100, f"Trained: '{session.name}' is now the model in use.")
        self.model_trained.emit(str(session.model_path))

    def cancel(self) -> None:
        if self._process is None:
            return
        self.panel.set_training(True, self.panel.progress.value(), "Cancelling…")
        self._cancelled = True
        self._process.terminate()  # SIGTERM: the trainer stops like Ctrl-C
        process = self._process
        QTimer.singleShot(CANCEL_GRACE_MS, lambda: process.kill() if self._process is process else None)

    def shutdown(self) -> None:
        """Stop a training run still going (the window is closing)."""
        if self._process is not None:
            self._process.terminate()
            if not self._process.waitForFinished(CANCEL_GRACE_MS):
                self._process.kill()
                self._process.waitForFinished(1000)


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:]
