"""STF-Net Live: one command line for the app, replay, training and tools.

    python main.py                 open the GUI (same as `python main.py gui`)
    python main.py replay VIDEO    recognise actions in a video file, headless
    python main.py train ...       train a checkpoint; see `python main.py <command> --help`

Each command lives in its own module, which provides ``add_arguments(parser)`` and ``run(args) -> int``;
modules are imported only when their command runs, so `--help` and light commands start fast. ``--verbose``
(anywhere on the line) lets MediaPipe's and LiteRT's own log lines through; they are silenced otherwise.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from stfnet.errors import UserError

COMMANDS: dict[str, tuple[str, str]] = {
    "gui": ("realtime.gui.app", "open the live window (camera or video file)"),
    "replay": ("realtime.replay", "recognise actions in a video file headless; write a timeline"),
    "train": ("train.loop", "train a checkpoint on a dataset file (DDP under torchrun)"),
    "eval": ("train.evaluate", "evaluate a checkpoint on a dataset split"),
    "ensemble": ("train.ensemble", "fuse the saved scores of several streams"),
    "convert": ("train.data.convert", "convert NTU / Kinetics / UTD-MHAD data to the dataset format"),
    "extract": ("train.data.extract", "build a dataset from folders of labelled videos with the pose estimator"),
    "export": ("train.export", "export a checkpoint to ONNX or TorchScript"),
    "ablate": ("train.analysis.ablate", "train the paper's ablation configs and write a table"),
    "explain": ("train.analysis.explain", "draw the attention and temporal figures of a checkpoint"),
    "bench": ("benchmarks.cli", "measure model, pipeline or training speed"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="main.py", description="STF-Net Live: skeleton-based action recognition")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--verbose" in argv:  # anywhere: let MediaPipe's and LiteRT's own log lines through (realtime.pose)
        argv.remove("--verbose")
        os.environ["STFNET_VERBOSE"] = "1"
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv = ["gui", *argv]
    if argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        build_parser().parse_args(argv)  # prints help, or the "invalid choice" message, and exits
        return 0
    name, rest = argv[0], argv[1:]
    module = importlib.import_module(COMMANDS[name][0])
    parser = argparse.ArgumentParser(prog=f"main.py {name}", description=COMMANDS[name][1])
    module.add_arguments(parser)
    args = parser.parse_args(rest)
    try:
        with _sigterm_as_interrupt():
            return int(module.run(args) or 0)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (``kill``, a job scheduler, a closing session) ends a command as Ctrl-C does: through its
    KeyboardInterrupt handling, which leaves nothing half-written, and exit code 130."""
    if threading.current_thread() is not threading.main_thread():  # signal handlers live on the main thread
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
