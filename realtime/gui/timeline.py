"""The predictions shown for one source, exportable in the replay command's JSON or CSV timeline format."""

from __future__ import annotations

import dataclasses
import json
from collections import deque
from pathlib import Path
from typing import Any

from realtime.recognizer import Prediction
from realtime.replay import prediction_record, timeline_csv
from stfnet.atomic import write_text

MAX_ENTRIES = 100_000  # about 2.7 hours at 10 predictions per second; older entries are dropped


class Timeline:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._predictions: deque[Prediction] = deque(maxlen=max_entries)
        self.source = ""
        self.fps: float | None = None
        self.frames = 0  # frames shown or processed for this source

    def reset(self, source: str, fps: float | None) -> None:
        self._predictions.clear()
        self.source, self.fps, self.frames = source, fps, 0

    def add(self, prediction: Prediction) -> None:
        # Without the maps: a long session must not hold megabytes per second of attention arrays.
        self._predictions.append(dataclasses.replace(prediction, mcf_maps={}, mcf_grain_weights={},
                                                     tdf_weights={}, people=()))

    def __len__(self) -> int:
        return len(self._predictions)

    def document(self, checkpoint: Path | None, labels: tuple[str, ...], every_ms: float,
                 window_seconds: float | None) -> dict[str, Any]:
        """The same fields as `main.py replay --out`'s timeline."""
        return {
            "source": self.source,
            "checkpoint": str(checkpoint) if checkpoint else None,
            "labels": list(labels),
            "every_ms": every_ms,
            "fps": self.fps,
            "frames": self.frames,
            "window_seconds": window_seconds,
            "predictions": [prediction_record(p) for p in self._predictions],
        }

    def write(self, path: Path, checkpoint: Path | None, labels: tuple[str, ...], every_ms: float,
              window_seconds: float | None) -> None:
        """Write ``path`` atomically: CSV when it ends in .csv, JSON otherwise."""
        predictions = list(self._predictions)
        if path.suffix.lower() == ".csv":
            top_k = max((len(p.top_k) for p in predictions), default=1)
            text = timeline_csv(predictions, max(1, top_k))
        else:
            text = json.dumps(self.document(checkpoint, labels, every_ms, window_seconds), indent=1)
        write_text(path, text)
