"""A video file for the player: one frame at a time, with seeking and skipping.

``sources.VideoSource`` plays a file straight through; the player must also pause, seek and loop. This subclass
reads from the same OpenCV capture one frame at a time and keeps VideoSource's checks and messages.
"""

from __future__ import annotations

from pathlib import Path

import cv2

from realtime.sources import Frame, VideoSource


class SeekableVideo(VideoSource):
    def __init__(self, path: str | Path) -> None:
        super().__init__(path, pace=False)
        self.position = 0  # index of the frame the next read() returns

    def seek(self, index: int) -> int:
        """Move to frame ``index`` (clamped to the file); returns the index moved to."""
        last = (self.frame_count - 1) if self.frame_count else None
        index = max(0, index if last is None else min(index, last))
        self._cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        self.position = index
        return index

    def read(self) -> Frame | None:
        """The next frame, or None at the end; SourceError when the file ends well before its frame count."""
        ok, image = self._cap.read()
        if not ok or image is None:
            self._check_complete(self.position)
            return None
        frame = Frame(self.position, self.position / self.fps, image)
        self.position += 1
        return frame

    def skip(self, count: int) -> None:
        """Pass over ``count`` frames without decoding them (playback that fell behind catches up)."""
        for _ in range(count):
            if not self._cap.grab():
                return
            self.position += 1
