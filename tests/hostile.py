"""Pickled objects that run code when unpickled, for the tests of every reader of files from strangers."""

from __future__ import annotations


class Payload:
    """Unpickling this creates ``marker``: the proof that a file ran code. ``call`` is the callable the pickle asks
    for; any but ``open`` is given the Python source that opens ``marker`` (what ``eval`` or ``exec`` would run)."""

    def __init__(self, marker, call=open):
        self.marker, self.call = str(marker), call

    def __reduce__(self):
        if self.call is open:
            return open, (self.marker, "w")
        return self.call, (f"open({self.marker!r}, 'w')",)
